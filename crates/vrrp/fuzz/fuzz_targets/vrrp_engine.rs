//! One VRRP instance driven by arbitrary input: a configuration, then a sequence of packets
//! (arbitrary bytes, or adverts built to pass or nearly pass validation), time steps, priority
//! changes, faults, restarts and shutdowns, fed through `handle_packet`, `handle_timeout` and
//! `poll_action` the way the daemon's driver does it. It never panics, and after every step:
//!
//! - every packet is either accepted or dropped under exactly one reason (counters add up);
//! - a dropped packet changes nothing: same state, same timer, no action but an event;
//! - the last `StateChanged` is the state the instance reports, and there is none without a
//!   change; a start with a fault enters FAULT directly (no BACKUP on the way);
//! - the virtual addresses are held exactly while MASTER (AddAddresses / RemoveAddresses);
//! - every advert sent goes from our address to one of our destinations, parses with the
//!   checksum of that pair, is for our VRID, version and interval, and carries the current
//!   priority (or 0 when a master stops, counted as such); each advert goes to every
//!   destination, and `sent` counts adverts;
//! - MASTER and BACKUP always have a timer, INITIALIZE and FAULT never; a master's next advert
//!   is due within one advert interval, a backup's Master_Down_Timer within the longest
//!   Master_Down_Interval; `handle_timeout` at a due time moves the timer past now;
//! - each drop reason is reported at most once per `DROP_LOG_INTERVAL`, with its count.
//!
//! Input layout: configuration bytes first, then one operation per chunk (see `Op`).

#![no_main]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use keepalived_vrrp::instance::{
    Action, DROP_LOG_INTERVAL, Destination, DropReason, Event, FaultCause, Instance,
    InstanceConfig, Phase, Received, State, Tracking, Unicast,
};
use keepalived_vrrp::config::master_down_interval_for;
use keepalived_vrrp::packet::{Advertisement, Auth, MULTICAST_GROUP, TTL, Version};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Our address, and the two peers a structured advert may come from (one below, one above us
/// for the equal-priority tie break), all in 192.0.2.0/24.
const LOCAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const LOWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const HIGHER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 30);
/// The virtual addresses a configuration picks from.
const VIPS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(192, 0, 2, 100),
    Ipv4Addr::new(192, 0, 2, 101),
    Ipv4Addr::new(198, 51, 100, 7),
];
/// Bounds that keep one input fast.
const MAX_OPS: usize = 256;
const MAX_STEP_MS: u64 = 3_000;
/// A timer that fires more often than this within one time step is a busy loop.
const MAX_FIRES_PER_STEP: usize = 2_000;

fn config(u: &mut Unstructured<'_>) -> Result<InstanceConfig> {
    let version = if u.arbitrary::<bool>()? {
        Version::V3
    } else {
        Version::V2
    };
    // What the configuration reader allows: VRRPv2 whole seconds 1..=255, VRRPv3 centiseconds
    // 1..=4095 (12 bits).
    let advert_interval = match version {
        Version::V2 => Duration::from_secs(u.int_in_range(1..=255)?),
        Version::V3 => Duration::from_millis(10 * u.int_in_range(1..=4095u64)?),
    };
    let auth = match u.int_in_range(0..=2u8)? {
        0 => Auth::None,
        1 => {
            let len = u.int_in_range(0..=8)?;
            Auth::pass(u.bytes(len)?)
        }
        _ => Auth::Ah,
    };
    let count = u.int_in_range(0..=VIPS.len())?;
    let destination = if u.arbitrary()? {
        // Unicast to both peers.
        Destination::Unicast(Unicast {
            peers: vec![LOWER.into(), HIGHER.into()],
            ttl: if u.arbitrary()? { 255 } else { 64 },
            only_from_peers: u.arbitrary()?,
        })
    } else {
        Destination::Multicast(MULTICAST_GROUP.into())
    };
    Ok(InstanceConfig {
        name: "VI_F".to_string(),
        interface: "eth0".to_string(),
        vrid: u.int_in_range(1..=255)?,
        priority: u.int_in_range(1..=255)?,
        advert_interval,
        preempt: u.arbitrary()?,
        preempt_delay: Duration::from_millis(u.int_in_range(0..=10_000)?),
        auth,
        version,
        addresses: VIPS[..count].iter().map(|a| IpAddr::V4(*a)).collect(),
        local_address: LOCAL.into(),
        destination,
        // Whole seconds, as the configuration has them; 0 = no second burst.
        garp_master_delay: Duration::from_secs(u.int_in_range(0..=10)?),
        garp_master_refresh: if u.arbitrary()? {
            Some(Duration::from_secs(u.int_in_range(1..=600)?))
        } else {
            None
        },
        start_backup: u.arbitrary()?,
    })
}

/// An advert that matches the configuration except where the input says otherwise, so the
/// fuzzer reaches the state machine instead of stopping at the checksum.
fn structured_packet(u: &mut Unstructured<'_>, config: &InstanceConfig) -> Result<Packet> {
    let src = match u.int_in_range(0..=3u8)? {
        0 => LOWER,
        1 => HIGHER,
        2 => LOCAL,
        _ => Ipv4Addr::from(u.arbitrary::<u32>()?),
    };
    let dst = if u.arbitrary()? {
        MULTICAST_GROUP
    } else {
        LOCAL
    };
    let mut advert = Advertisement {
        version: config.version,
        vrid: config.vrid,
        priority: u.arbitrary()?,
        interval_cs: u16::try_from(config.advert_interval.as_millis() / 10).unwrap_or(u16::MAX),
        auth: match config.version {
            Version::V2 => config.auth,
            Version::V3 => Auth::None,
        },
        addresses: config.addresses.clone(),
    };
    // Flaws, each rarely.
    let flaws: u8 = u.arbitrary()?;
    if flaws & 0x01 != 0 {
        advert.version = match advert.version {
            Version::V2 => Version::V3,
            Version::V3 => Version::V2,
        };
    }
    if flaws & 0x02 != 0 {
        advert.vrid = u.arbitrary()?;
    }
    if flaws & 0x04 != 0 {
        let len = u.int_in_range(0..=8)?;
        advert.auth = Auth::pass(u.bytes(len)?);
    }
    if flaws & 0x08 != 0 {
        advert.interval_cs = u.arbitrary()?;
    }
    if flaws & 0x10 != 0 {
        advert.addresses = vec![Ipv4Addr::from(u.arbitrary::<u32>()?).into()];
    }
    let mut payload = advert.to_bytes(src, dst);
    if flaws & 0x20 != 0 {
        let at = u.choose_index(payload.len())?;
        payload[at] ^= u.int_in_range(1..=255u8)?;
    }
    let ttl = if flaws & 0x40 != 0 {
        u.arbitrary()?
    } else {
        TTL
    };
    Ok(Packet {
        src: src.into(),
        dst: dst.into(),
        ttl,
        payload,
    })
}

struct Packet {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    payload: Vec<u8>,
}

enum Op {
    Start,
    Packet(Packet),
    Advance(Duration),
    /// A spurious wake-up: handle_timeout whether or not a timer is due.
    Wake,
    /// Tracking gives this priority (the fault stays).
    SetPriority(u8),
    /// Tracking gives this fault (the priority stays).
    SetFault(Option<FaultCause>),
    ClearStats,
    Shutdown,
}

fn op(u: &mut Unstructured<'_>, config: &InstanceConfig) -> Result<Op> {
    Ok(match u.int_in_range(0..=15u8)? {
        0 => Op::Start,
        1..=5 => Op::Packet(structured_packet(u, config)?),
        6 => {
            let len = u.int_in_range(0..=64)?;
            Op::Packet(Packet {
                src: Ipv4Addr::from(u.arbitrary::<u32>()?).into(),
                dst: Ipv4Addr::from(u.arbitrary::<u32>()?).into(),
                ttl: u.arbitrary()?,
                payload: u.bytes(len)?.to_vec(),
            })
        }
        7..=10 => Op::Advance(Duration::from_millis(u.int_in_range(0..=MAX_STEP_MS)?)),
        11 => Op::Wake,
        12 => Op::SetPriority(u.arbitrary()?),
        13 => Op::SetFault(match u.int_in_range(0..=2u8)? {
            0 => None,
            1 => Some(FaultCause::LinkDown),
            _ => Some(FaultCause::Tracked),
        }),
        14 => Op::ClearStats,
        _ => Op::Shutdown,
    })
}

/// What the checker remembers between steps.
struct Model {
    config: InstanceConfig,
    /// What tracking says now.
    tracking: Tracking,
    now: Instant,
    holding: bool,
    sent: u64,
    priority_zero_sent: u64,
    packets: u64,
    last_drop_log: HashMap<DropReason, Instant>,
}

/// The actions of one step.
#[derive(Default)]
struct Step {
    sends: usize,
    only_events: bool,
    states: Vec<State>,
}

impl Model {
    /// Drains the actions of one step and checks each.
    fn drain(&mut self, instance: &mut Instance) -> Step {
        let config = &self.config;
        let mut step = Step {
            only_events: true,
            ..Step::default()
        };
        let mut guard = 0;
        while let Some(action) = instance.poll_action() {
            guard += 1;
            assert!(guard < 1_000, "an instance keeps producing actions");
            if !matches!(action, Action::Event(_)) {
                step.only_events = false;
            }
            match action {
                Action::Send {
                    src,
                    dst,
                    ttl,
                    payload,
                } => {
                    step.sends += 1;
                    assert_eq!(ttl, config.destination.ttl(), "advert TTL");
                    assert_eq!(src, config.local_address, "advert from another address");
                    let destinations = config.destination.addresses();
                    assert!(destinations.contains(&dst), "advert to {dst}");
                    // Each advert goes to every destination, the first one first.
                    let first = dst == destinations[0];
                    if first {
                        self.sent += 1;
                    }
                    let advert = Advertisement::parse(&payload, src, dst)
                        .unwrap_or_else(|e| panic!("sent an advert that does not parse: {e}"));
                    assert_eq!(advert.version, config.version);
                    assert_eq!(advert.vrid, config.vrid);
                    assert_eq!(advert.addresses, config.addresses);
                    let want_cs =
                        u16::try_from(config.advert_interval.as_millis() / 10).unwrap_or(u16::MAX);
                    match config.version {
                        Version::V2 => {
                            assert_eq!(advert.interval_cs, want_cs);
                            assert_eq!(advert.auth, config.auth);
                        }
                        Version::V3 => {
                            assert_eq!(advert.interval_cs, want_cs);
                            assert_eq!(advert.auth, Auth::None);
                        }
                    }
                    if advert.priority == 0 {
                        if first {
                            self.priority_zero_sent += 1;
                        }
                    } else {
                        assert_eq!(advert.priority, instance.priority(), "stale priority sent");
                    }
                }
                Action::AddAddresses => {
                    assert!(!self.holding, "addresses added twice");
                    self.holding = true;
                }
                Action::RemoveAddresses => self.holding = false,
                Action::Announce | Action::Reannounce(_) => {
                    assert!(self.holding, "announcement for addresses not held");
                }
                Action::StateChanged(state) => step.states.push(state),
                Action::Event(Event::Dropped { reason, count, .. }) => {
                    assert_eq!(count, instance.stats().dropped(reason), "reported count");
                    if let Some(last) = self.last_drop_log.insert(reason, self.now) {
                        assert!(
                            self.now >= last + DROP_LOG_INTERVAL,
                            "`{reason:?}` reported twice within {DROP_LOG_INTERVAL:?}"
                        );
                    }
                }
                Action::Event(_) => {}
            }
        }
        step
    }

    /// Invariants that hold between steps.
    fn check(&self, instance: &Instance, before: State, step: &Step) {
        let state = instance.state();
        match step.states.last() {
            Some(s) => assert_eq!(*s, state, "last StateChanged is not the state"),
            None => assert_eq!(state, before, "state changed without StateChanged"),
        }
        assert_eq!(
            self.holding,
            state == State::Master,
            "addresses held in {state:?}"
        );
        let stats = instance.stats();
        assert_eq!(stats.sent, self.sent, "sent counter");
        assert_eq!(stats.priority_zero_sent, self.priority_zero_sent);
        let dropped: u64 = stats.dropped.iter().sum();
        assert_eq!(
            stats.received + dropped,
            self.packets,
            "packets unaccounted for"
        );
        let config = instance.config();
        let timeout = instance.poll_timeout();
        match state {
            State::Master => {
                let t = timeout.unwrap_or_else(|| panic!("MASTER without a timer"));
                assert!(
                    t <= self.now + config.advert_interval,
                    "advert later than due"
                );
            }
            State::Backup => {
                let t = timeout.unwrap_or_else(|| panic!("BACKUP without a timer"));
                let Phase::Backup(timers) = instance.phase() else {
                    panic!("BACKUP without its timers");
                };
                // VRRPv3 learns the master's interval (RFC 5798 section 6.4.2), at most
                // 4095 cs; VRRPv2 keeps ours.
                let longest = match config.version {
                    Version::V2 => config.advert_interval,
                    Version::V3 => Duration::from_millis(40_950),
                };
                assert!(timers.master_adver_interval <= longest);
                assert!(
                    t <= self.now
                        + master_down_interval_for(config.version, timers.master_adver_interval, 1),
                    "Master_Down_Timer beyond the longest interval"
                );
            }
            State::Initialize | State::Fault => {
                assert_eq!(timeout, None, "timer armed in {state:?}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(config) = config(&mut u) else {
        return;
    };
    let mut instance = Instance::new(config.clone());
    let mut model = Model {
        tracking: Tracking::healthy(&config),
        config: config.clone(),
        now: Instant::now(),
        holding: false,
        sent: 0,
        priority_zero_sent: 0,
        packets: 0,
        last_drop_log: HashMap::new(),
    };
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        let Ok(op) = op(&mut u, &config) else {
            break;
        };
        let before = instance.state();
        match op {
            Op::Start => {
                instance.start(model.now, model.tracking);
                let step = model.drain(&mut instance);
                model.check(&instance, before, &step);
                if before == State::Initialize && model.tracking.fault.is_some() {
                    assert_eq!(step.states, vec![State::Fault], "start with a fault");
                }
                continue;
            }
            Op::Packet(p) => {
                let dropped_before: u64 = instance.stats().dropped.iter().sum();
                let timer_before = instance.poll_timeout();
                model.packets += 1;
                instance.handle_packet(
                    model.now,
                    Received {
                        src: p.src,
                        dst: p.dst,
                        ttl: p.ttl,
                        payload: &p.payload,
                    },
                );
                let dropped = instance.stats().dropped.iter().sum::<u64>() > dropped_before;
                let step = model.drain(&mut instance);
                if dropped {
                    assert_eq!(
                        instance.state(),
                        before,
                        "a dropped packet changed the state"
                    );
                    assert_eq!(
                        instance.poll_timeout(),
                        timer_before,
                        "a drop moved the timer"
                    );
                    assert!(step.only_events, "a dropped packet caused an action");
                }
                model.check(&instance, before, &step);
                continue;
            }
            Op::Advance(by) => {
                // The driver: run every timer due within the step at its due time.
                let target = model.now + by;
                let mut fires = 0;
                while let Some(due) = instance.poll_timeout().filter(|t| *t <= target) {
                    fires += 1;
                    assert!(fires <= MAX_FIRES_PER_STEP, "timer busy loop");
                    let state = instance.state();
                    model.now = model.now.max(due);
                    instance.handle_timeout(model.now);
                    let step = model.drain(&mut instance);
                    model.check(&instance, state, &step);
                    assert!(
                        instance.poll_timeout().is_none_or(|t| t > model.now),
                        "handle_timeout left a timer that is already due"
                    );
                }
                model.now = target;
                // Checked after each firing above.
                continue;
            }
            Op::Wake => instance.handle_timeout(model.now),
            Op::SetPriority(priority) => {
                model.tracking.priority = priority;
                instance.track(model.now, model.tracking);
            }
            Op::SetFault(fault) => {
                model.tracking.fault = fault;
                instance.track(model.now, model.tracking);
            }
            Op::ClearStats => {
                instance.clear_stats();
                model.sent = 0;
                model.priority_zero_sent = 0;
                model.packets = 0;
            }
            Op::Shutdown => {
                instance.shutdown(model.now);
                let step = model.drain(&mut instance);
                model.check(&instance, before, &step);
                assert_eq!(instance.state(), State::Initialize);
                continue;
            }
        }
        let step = model.drain(&mut instance);
        model.check(&instance, before, &step);
    }
});
