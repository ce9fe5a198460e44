//! One virtual router: the state machine of RFC 3768 section 6.4, with keepalived's additions
//! (nopreempt, preempt_delay, FAULT, the second gratuitous ARP burst).
//!
//! The driver calls [`Instance::start`], [`Instance::handle_packet`],
//! [`Instance::handle_timeout`], [`Instance::set_fault`] and [`Instance::shutdown`] with the
//! current time, arms one timer at [`Instance::poll_timeout`], and carries out the
//! [`Action`]s that [`Instance::poll_action`] hands out. Every transition goes through
//! `change_state`.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::packet::{Advertisement, Auth, MULTICAST_GROUP, ParseError, TTL, Version};

/// How often one drop reason may be logged per instance, so a flood cannot flood the log.
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// What an instance is configured with.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceConfig {
    /// The instance name, as in `vrrp_instance NAME`.
    pub name: String,
    /// The interface name, for log lines.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Configured priority (1..255; 255 = address owner).
    pub priority: u8,
    /// Advertisement_Interval.
    pub advert_interval: Duration,
    /// Preempt_Mode (false with `nopreempt`).
    pub preempt: bool,
    /// No preemption during this long after start (keepalived's `preempt_delay`).
    pub preempt_delay: Duration,
    /// Authentication sent and required.
    pub auth: Auth,
    /// Protocol version.
    pub version: Version,
    /// The virtual addresses that are advertised.
    pub addresses: Vec<Ipv4Addr>,
    /// This router's primary address on the interface: the source of adverts and the tie
    /// breaker between equal priorities.
    pub local_address: Ipv4Addr,
    /// Delay of the second gratuitous ARP burst after becoming master.
    pub garp_master_delay: Duration,
    /// Interval of repeated gratuitous ARP bursts while master, if any.
    pub garp_master_refresh: Option<Duration>,
    /// Adverts go to unicast peers instead of the multicast group.
    pub unicast: bool,
}

impl InstanceConfig {
    /// Skew_Time = (256 - Priority) / 256 seconds (RFC 3768 section 6.1), exactly.
    pub fn skew_time(&self, priority: u8) -> Duration {
        Duration::from_nanos(u64::from(256 - u16::from(priority)) * 3_906_250)
    }

    /// Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time (RFC 3768 section 6.1).
    pub fn master_down_interval(&self, priority: u8) -> Duration {
        3 * self.advert_interval + self.skew_time(priority)
    }

    fn interval_cs(&self) -> u16 {
        u16::try_from(self.advert_interval.as_millis() / 10).unwrap_or(u16::MAX)
    }
}

/// The states of RFC 3768 section 6.4, plus FAULT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started, or stopped.
    Initialize,
    /// Watching the master.
    Backup,
    /// Forwarding for the virtual addresses.
    Master,
    /// Cannot work (interface down, a tracked object failed).
    Fault,
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this advertisement (the VRRP message) from the local address.
    Send(Vec<u8>),
    /// Add the virtual addresses to the interface.
    AddAddresses,
    /// Remove the virtual addresses from the interface.
    RemoveAddresses,
    /// Send one burst of gratuitous ARPs for every virtual address.
    SendGratuitousArps,
    /// The state changed (for notify scripts).
    StateChanged(State),
    /// Write a log line.
    Log(LogLine),
}

/// A log line, worded as keepalived words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Shown only with `-D` (log-detail).
    pub detail: bool,
    /// The text.
    pub text: String,
}

/// Why a received packet was dropped. Each reason has a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// TTL other than 255 on a multicast advert (RFC 3768 section 7.1).
    Ttl,
    /// Shorter than a header.
    Truncated,
    /// Version other than the configured one.
    Version,
    /// Type other than ADVERTISEMENT.
    Type,
    /// Length does not match the address count.
    Length,
    /// Checksum does not verify.
    Checksum,
    /// Auth type other than ours, or unknown.
    AuthType,
    /// PASS password other than ours.
    Password,
    /// Advertisement interval other than ours (VRRPv2).
    Interval,
    /// Another VRID (the driver normally routes by VRID first).
    Vrid,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 10] = [
        DropReason::Ttl,
        DropReason::Truncated,
        DropReason::Version,
        DropReason::Type,
        DropReason::Length,
        DropReason::Checksum,
        DropReason::AuthType,
        DropReason::Password,
        DropReason::Interval,
        DropReason::Vrid,
    ];

    /// The reason as keepalived names it in its log.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Ttl => "invalid TTL",
            DropReason::Truncated => "packet too short",
            DropReason::Version => "invalid version",
            DropReason::Type => "invalid type",
            DropReason::Length => "invalid packet length",
            DropReason::Checksum => "Invalid VRRPv2 checksum",
            DropReason::AuthType => "auth type mismatch",
            DropReason::Password => "invalid passwd",
            DropReason::Interval => "advertisement interval mismatch",
            DropReason::Vrid => "unknown VRID",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

impl From<ParseError> for DropReason {
    fn from(err: ParseError) -> DropReason {
        match err {
            ParseError::Truncated(_) => DropReason::Truncated,
            ParseError::Version(_) => DropReason::Version,
            ParseError::Type(_) => DropReason::Type,
            ParseError::Length { .. } => DropReason::Length,
            ParseError::Checksum => DropReason::Checksum,
            ParseError::AuthType(_) => DropReason::AuthType,
        }
    }
}

/// Counters of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Adverts accepted.
    pub received: u64,
    /// Adverts sent.
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
    pub dropped: [u64; 10],
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
    pub src: Ipv4Addr,
    /// IP destination (the multicast group, or our address for unicast).
    pub dst: Ipv4Addr,
    /// IP TTL.
    pub ttl: u8,
    /// The VRRP message.
    pub payload: &'a [u8],
}

/// One virtual router.
#[derive(Debug)]
pub struct Instance {
    config: InstanceConfig,
    state: State,
    /// Priority after tracking; equals `config.priority` until trackers change it.
    priority: u8,
    started_at: Option<Instant>,
    /// BACKUP: the Master_Down_Timer; MASTER: the Adver_Timer.
    timer: Option<Instant>,
    /// MASTER: when the next gratuitous ARP burst is due.
    garp_at: Option<Instant>,
    actions: VecDeque<Action>,
    stats: Stats,
    last_drop_log: [Option<Instant>; 10],
    reported_address_mismatch: bool,
}

impl Instance {
    /// An instance in the Initialize state.
    pub fn new(config: InstanceConfig) -> Instance {
        let priority = config.priority;
        Instance {
            config,
            state: State::Initialize,
            priority,
            started_at: None,
            timer: None,
            garp_at: None,
            actions: VecDeque::new(),
            stats: Stats::default(),
            last_drop_log: [None; 10],
            reported_address_mismatch: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The priority adverts carry now.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// When [`Instance::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.timer, self.garp_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next action to carry out.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Startup (RFC 3768 section 6.4.1): addresses left by an earlier run are removed, then
    /// the owner (priority 255) becomes master at once and everyone else backup.
    pub fn start(&mut self, now: Instant) {
        if self.state != State::Initialize {
            return;
        }
        self.started_at = Some(now);
        self.actions.push_back(Action::RemoveAddresses);
        if self.priority == 255 {
            self.become_master(now);
        } else {
            self.enter_backup(now);
        }
    }

    /// Timers: Master_Down_Timer in BACKUP (RFC 3768 section 6.4.2), Adver_Timer in MASTER
    /// (section 6.4.3), and the gratuitous ARP bursts.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.garp_at.is_some_and(|t| t <= now) {
            self.garp_at = self.config.garp_master_refresh.map(|every| now + every);
            self.send_garps();
        }
        if self.timer.is_none_or(|t| t > now) {
            return;
        }
        match self.state {
            State::Backup => self.become_master(now),
            State::Master => {
                self.send_advert(self.priority);
                self.timer = Some(now + self.config.advert_interval);
            }
            State::Initialize | State::Fault => self.timer = None,
        }
    }

    /// A packet for this instance's VRID arrived.
    pub fn handle_packet(&mut self, now: Instant, packet: Received<'_>) {
        let advert = match self.validate(packet) {
            Ok(advert) => advert,
            Err(reason) => return self.drop_packet(now, packet.src, reason),
        };
        self.stats.received += 1;
        if advert.priority == 0 {
            self.stats.priority_zero_received += 1;
        }
        match self.state {
            State::Backup => self.backup_receives(now, &advert),
            State::Master => self.master_receives(now, packet.src, &advert),
            State::Initialize | State::Fault => {}
        }
    }

    /// The effective priority changed because a tracked object changed. Adverts carry the new
    /// value from now on, and as backup it sets Skew_Time from the next reset of the timer; an
    /// address owner (255) keeps 255.
    pub fn set_priority(&mut self, _now: Instant, priority: u8) {
        if priority == self.priority || self.config.priority == 255 || priority == 0 {
            return;
        }
        let text = format!(
            "Changing effective priority from {} to {priority}",
            self.priority
        );
        self.log(false, &text);
        self.priority = priority;
    }

    /// Enters or leaves FAULT (an interface or tracked object went down or came back).
    pub fn set_fault(&mut self, now: Instant, fault: bool) {
        match (fault, self.state) {
            (true, State::Fault) | (false, State::Backup | State::Master | State::Initialize) => {}
            (true, State::Initialize) => {}
            (true, State::Backup | State::Master) => {
                if self.state == State::Master {
                    self.release_master();
                }
                self.timer = None;
                self.garp_at = None;
                self.log(false, "Entering FAULT STATE");
                self.change_state(State::Fault);
                self.log(false, "Now in FAULT state");
            }
            (false, State::Fault) => self.enter_backup(now),
        }
    }

    /// Sets every counter back to zero (keepalived's "stats clear" signal).
    pub fn clear_stats(&mut self) {
        self.stats = Stats::default();
    }

    /// Shutdown (RFC 3768 sections 6.4.2 and 6.4.3): a master sends priority 0 and gives up
    /// its addresses; every instance returns to Initialize.
    pub fn shutdown(&mut self, _now: Instant) {
        if self.state == State::Master {
            self.release_master();
        }
        self.timer = None;
        self.garp_at = None;
        if self.state != State::Initialize {
            self.change_state(State::Initialize);
        }
    }

    /// Checks of RFC 3768 section 7.1 that do not depend on the state.
    fn validate(&mut self, packet: Received<'_>) -> Result<Advertisement, DropReason> {
        // RFC 3768 section 7.1: only a router on the link can send with TTL 255. Unicast
        // peers may be routed, so keepalived does not check them.
        if !self.config.unicast && packet.ttl != TTL {
            return Err(DropReason::Ttl);
        }
        let advert = Advertisement::parse(packet.payload, packet.src, packet.dst)?;
        if advert.version != self.config.version {
            return Err(DropReason::Version);
        }
        if advert.vrid != self.config.vrid {
            return Err(DropReason::Vrid);
        }
        if self.config.version == Version::V2 {
            match (self.config.auth, advert.auth) {
                (Auth::Pass(ours), Auth::Pass(theirs)) if ours != theirs => {
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
        if advert.addresses != self.config.addresses && !self.reported_address_mismatch {
            // RFC 3768 section 7.1: log, but accept.
            self.reported_address_mismatch = true;
            let theirs: Vec<String> = advert.addresses.iter().map(ToString::to_string).collect();
            self.log(
                false,
                &format!(
                    "received an advert from {} with a different set of addresses: {}",
                    packet.src,
                    theirs.join(" ")
                ),
            );
        }
        Ok(advert)
    }

    fn drop_packet(&mut self, now: Instant, src: Ipv4Addr, reason: DropReason) {
        let index = reason.index();
        self.stats.dropped[index] += 1;
        let due = self.last_drop_log[index].is_none_or(|t| now >= t + DROP_LOG_INTERVAL);
        if due {
            self.last_drop_log[index] = Some(now);
            let count = self.stats.dropped[index];
            self.log(
                false,
                &format!(
                    "dropped an advert from {src}: {} ({count} so far)",
                    reason.as_str()
                ),
            );
        }
    }

    /// RFC 3768 section 6.4.2, receiving an ADVERTISEMENT as backup.
    fn backup_receives(&mut self, now: Instant, advert: &Advertisement) {
        if advert.priority == 0 {
            self.timer = Some(now + self.config.skew_time(self.priority));
        } else if !self.may_preempt(now) || advert.priority >= self.priority {
            self.timer = Some(now + self.config.master_down_interval(self.priority));
        }
        // Lower priority with preemption: ignore it, so Master_Down_Timer fires and we take
        // over.
    }

    /// RFC 3768 section 6.4.3, receiving an ADVERTISEMENT as master.
    fn master_receives(&mut self, now: Instant, src: Ipv4Addr, advert: &Advertisement) {
        let theirs_wins = advert.priority > self.priority
            || (advert.priority == self.priority && src > self.config.local_address);
        if advert.priority == 0 {
            self.send_advert(self.priority);
            self.timer = Some(now + self.config.advert_interval);
        } else if theirs_wins {
            self.log(false, "Received higher prio advert");
            self.release_addresses();
            self.stats.released_master += 1;
            self.garp_at = None;
            self.enter_backup(now);
        } else {
            // keepalived answers a lower-priority master at once, so it steps down quickly.
            self.send_advert(self.priority);
        }
    }

    /// Preemption is on, and the start-up grace period (preempt_delay) is over.
    fn may_preempt(&self, now: Instant) -> bool {
        self.config.preempt
            && self
                .started_at
                .is_none_or(|t| now >= t + self.config.preempt_delay)
    }

    fn enter_backup(&mut self, now: Instant) {
        self.timer = Some(now + self.config.master_down_interval(self.priority));
        self.log(false, "Entering BACKUP STATE");
        self.change_state(State::Backup);
    }

    fn become_master(&mut self, now: Instant) {
        self.log(false, "Transition to MASTER STATE");
        self.send_advert(self.priority);
        self.log(true, "setting protocol VIPs.");
        self.actions.push_back(Action::AddAddresses);
        self.send_garps();
        // garp_master_delay 0 means no second burst (keepalived.conf(5)); the refresh, if
        // any, still follows.
        self.garp_at = if self.config.garp_master_delay.is_zero() {
            self.config.garp_master_refresh.map(|every| now + every)
        } else {
            Some(now + self.config.garp_master_delay)
        };
        self.timer = Some(now + self.config.advert_interval);
        self.stats.became_master += 1;
        self.log(false, "Entering MASTER STATE");
        self.change_state(State::Master);
    }

    /// A master that stops: priority 0 so the backups take over after Skew_Time, then the
    /// addresses go.
    fn release_master(&mut self) {
        self.send_advert(0);
        self.stats.priority_zero_sent += 1;
        self.stats.released_master += 1;
        self.log(false, "sent 0 priority");
        self.release_addresses();
    }

    fn release_addresses(&mut self) {
        self.log(true, "removing protocol VIPs.");
        self.actions.push_back(Action::RemoveAddresses);
    }

    /// Asks for a burst; the driver logs each address with the interface it goes out on
    /// (a `dev` address is announced on its own interface).
    fn send_garps(&mut self) {
        self.actions.push_back(Action::SendGratuitousArps);
    }

    fn send_advert(&mut self, priority: u8) {
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
        self.stats.sent += 1;
        let bytes = advert.to_bytes(self.config.local_address, MULTICAST_GROUP);
        self.actions.push_back(Action::Send(bytes));
    }

    fn change_state(&mut self, state: State) {
        self.state = state;
        self.actions.push_back(Action::StateChanged(state));
    }

    fn log(&mut self, detail: bool, text: &str) {
        self.actions.push_back(Action::Log(LogLine {
            detail,
            text: format!("VRRP_Instance({}) {text}", self.config.name),
        }));
    }
}
