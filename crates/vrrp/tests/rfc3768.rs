//! Every rule of the VRRPv2 state machine on a virtual clock, named after the RFC 3768
//! section it comes from, then scenarios of two or three routers on the in-memory wire.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use keepalived_vrrp::instance::{
    Action, AddressDifference, Contention, Destination, DropReason, Event, FaultCause, Instance,
    InstanceConfig, Received, State, Tracking, Unicast,
};
use keepalived_vrrp::packet::{Advertisement, Auth, MULTICAST_GROUP, TTL, Version};
use keepalived_vrrp::wire::{Wire, WireEvent};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));

fn config(name: &str, last_octet: u8, priority: u8) -> InstanceConfig {
    InstanceConfig {
        name: name.to_string(),
        interface: "eth0".to_string(),
        vrid: 51,
        priority,
        advert_interval: Duration::from_secs(1),
        preempt: true,
        preempt_delay: Duration::ZERO,
        auth: Auth::pass(b"secret"),
        version: Version::V2,
        addresses: vec![VIP],
        local_address: Ipv4Addr::new(192, 0, 2, last_octet).into(),
        destination: Destination::Multicast(MULTICAST_GROUP.into()),
        garp_master_delay: Duration::from_secs(5),
        garp_master_refresh: None,
        start_backup: false,
    }
}

fn drain(instance: &mut Instance) -> Vec<Action> {
    std::iter::from_fn(|| instance.poll_action()).collect()
}

fn sent_priorities(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { payload, .. } => payload.get(2).copied(),
            _ => None,
        })
        .collect()
}

fn advert_from(cfg: &InstanceConfig, priority: u8) -> Vec<u8> {
    Advertisement {
        version: cfg.version,
        vrid: cfg.vrid,
        priority,
        interval_cs: 100,
        auth: cfg.auth,
        addresses: cfg.addresses.clone(),
    }
    .to_bytes(cfg.local_address, MULTICAST_GROUP)
}

/// Hands `bytes` to `instance` as a multicast packet from `src` with `ttl`.
fn deliver(instance: &mut Instance, now: Instant, src: IpAddr, ttl: u8, bytes: &[u8]) {
    let packet = Received {
        src,
        dst: MULTICAST_GROUP.into(),
        ttl,
        payload: bytes,
    };
    instance.handle_packet(now, packet);
}

fn receive(instance: &mut Instance, now: Instant, from: &InstanceConfig, priority: u8) {
    deliver(
        instance,
        now,
        from.local_address,
        TTL,
        &advert_from(from, priority),
    );
}

/// Starts `instance` with nothing tracked and its link up.
fn start(instance: &mut Instance, now: Instant) {
    let tracking = Tracking::healthy(instance.config());
    instance.start(now, tracking);
}

/// The events among `actions`.
fn events(actions: &[Action]) -> Vec<&Event> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn started(cfg: InstanceConfig, now: Instant) -> Instance {
    let mut instance = Instance::new(cfg);
    start(&mut instance, now);
    drain(&mut instance);
    instance
}

#[test]
fn rfc3768_6_1_skew_and_master_down_interval_are_exact() {
    let cfg = config("a", 10, 100);
    assert_eq!(cfg.skew_time(100), Duration::from_micros(609_375));
    assert_eq!(
        cfg.master_down_interval(100),
        Duration::from_micros(3_609_375)
    );
    assert_eq!(cfg.skew_time(254), Duration::from_nanos(7_812_500));
    assert_eq!(
        cfg.skew_time(1),
        Duration::from_micros(996_093) + Duration::from_nanos(750)
    );
}

#[test]
fn rfc3768_6_4_1_startup_enters_backup_after_removing_leftovers() {
    let now = Instant::now();
    let mut instance = Instance::new(config("VI_1", 10, 100));
    start(&mut instance, now);
    let actions = drain(&mut instance);
    assert_eq!(actions[0], Action::RemoveAddresses);
    assert!(actions.contains(&Action::StateChanged(State::Backup)));
    assert!(events(&actions).contains(&&Event::Entering(State::Backup)));
    assert_eq!(
        instance.poll_timeout(),
        Some(now + Duration::from_micros(3_609_375))
    );
}

#[test]
fn rfc3768_6_4_1_owner_starts_as_master() {
    let now = Instant::now();
    let mut instance = Instance::new(config("owner", 10, 255));
    start(&mut instance, now);
    let actions = drain(&mut instance);
    assert_eq!(instance.state(), State::Master);
    assert_eq!(sent_priorities(&actions), vec![255]);
    assert!(actions.contains(&Action::AddAddresses));
    assert!(actions.contains(&Action::Announce));
    // keepalived 2.2.7 (observed, whether or not the VIP is the host's own address): priority
    // 255 alone makes the owner; its start reads as a Master_Down_Timer that fires at once,
    // with no BACKUP state before MASTER.
    assert_eq!(
        states(&actions),
        vec![State::Master],
        "no BACKUP before MASTER"
    );
    let events = events(&actions);
    let timeout = events.iter().position(|e| **e == Event::ReceiveTimeout);
    let master = events
        .iter()
        .position(|e| **e == Event::Entering(State::Master));
    assert!(
        timeout.is_some() && timeout < master,
        "`Receive advertisement timeout` before MASTER: {events:?}"
    );
    assert!(!events.contains(&&Event::Entering(State::Backup)));
}

#[test]
fn keepalived_owner_with_state_backup_written_waits_master_down_interval() {
    // keepalived 2.2.7 (observed): `state BACKUP` with priority 255 starts in BACKUP and
    // becomes master when its Master_Down_Timer fires.
    let now = Instant::now();
    let mut cfg = config("owner", 10, 255);
    cfg.start_backup = true;
    let mut instance = Instance::new(cfg);
    start(&mut instance, now);
    let actions = drain(&mut instance);
    assert_eq!(states(&actions), vec![State::Backup]);
    let down = now + instance.config().master_down_interval(255);
    assert_eq!(instance.poll_timeout(), Some(down));
    instance.handle_timeout(down);
    assert_eq!(instance.state(), State::Master);
}

fn states(actions: &[Action]) -> Vec<State> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StateChanged(s) => Some(*s),
            _ => None,
        })
        .collect()
}

#[test]
fn keepalived_backup_raised_to_255_by_a_reload_preempts_after_master_down_interval() {
    // keepalived 2.2.7 (observed): a backup whose priority a reload raises to 255 stays
    // BACKUP, discards the lower master's adverts (`received lower priority (150) advert
    // from 192.0.2.11 - discarding`) and becomes master when its Master_Down_Timer fires.
    let now = Instant::now();
    let mut instance = started(config("b", 10, 100), now);
    let master = config("a", 11, 150);
    receive(&mut instance, now, &master, 150);
    drain(&mut instance);
    let reload = now + Duration::from_millis(500);
    let raised = config("b", 10, 255);
    let tracking = Tracking::healthy(&raised);
    instance.reconfigure(reload, raised, tracking);
    drain(&mut instance);
    assert_eq!(instance.state(), State::Backup);
    let down = instance.poll_timeout().expect("Master_Down_Timer");
    assert_eq!(down, reload + instance.config().master_down_interval(255));
    let mut discarded = 0;
    for second in 1..=3 {
        let at = now + Duration::from_secs(second);
        receive(&mut instance, at, &master, 150);
        discarded += events(&drain(&mut instance))
            .iter()
            .filter(|e| {
                matches!(e, Event::LowerPriorityDiscarded { from, priority: 150 }
                    if *from == master.local_address)
            })
            .count();
    }
    assert_eq!(discarded, 3, "each of the master's adverts is reported");
    assert_eq!(
        instance.poll_timeout(),
        Some(down),
        "lower adverts do not reset it"
    );
    instance.handle_timeout(down);
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn rfc3768_6_4_2_master_down_timer_makes_backup_master() {
    let now = Instant::now();
    let mut instance = started(config("VI_1", 10, 100), now);
    let fire = now + Duration::from_micros(3_609_375);
    instance.handle_timeout(fire - Duration::from_micros(1));
    assert_eq!(instance.state(), State::Backup);
    instance.handle_timeout(fire);
    assert_eq!(instance.state(), State::Master);
    let actions = drain(&mut instance);
    assert_eq!(
        events(&actions),
        vec![
            &Event::ReceiveTimeout,
            &Event::TransitionToMaster,
            &Event::SettingAddresses,
            &Event::Entering(State::Master)
        ]
    );
    assert_eq!(sent_priorities(&actions), vec![100]);
    let add = actions.iter().position(|a| *a == Action::AddAddresses);
    let garp = actions.iter().position(|a| *a == Action::Announce);
    assert!(add < garp, "addresses before gratuitous ARP: {actions:?}");
}

#[test]
fn rfc3768_6_4_2_higher_or_equal_priority_resets_master_down_timer() {
    let now = Instant::now();
    let mut instance = started(config("b", 10, 100), now);
    let peer = config("a", 20, 100);
    let later = now + Duration::from_secs(2);
    receive(&mut instance, later, &peer, 100);
    assert_eq!(
        instance.poll_timeout(),
        Some(later + Duration::from_micros(3_609_375))
    );
}

#[test]
fn rfc3768_6_4_2_priority_zero_sets_timer_to_skew_time() {
    let now = Instant::now();
    let mut instance = started(config("b", 10, 100), now);
    let peer = config("a", 20, 150);
    let later = now + Duration::from_secs(1);
    receive(&mut instance, later, &peer, 0);
    assert_eq!(
        instance.poll_timeout(),
        Some(later + Duration::from_micros(609_375))
    );
    assert_eq!(instance.stats().priority_zero_received, 1);
}

#[test]
fn rfc3768_6_4_2_lower_priority_is_ignored_when_preempting() {
    let now = Instant::now();
    let mut instance = started(config("b", 10, 150), now);
    let first = instance.poll_timeout();
    receive(
        &mut instance,
        now + Duration::from_secs(1),
        &config("a", 20, 100),
        100,
    );
    assert_eq!(
        instance.poll_timeout(),
        first,
        "the timer keeps running, so we take over"
    );
}

#[test]
fn rfc3768_6_4_2_nopreempt_never_takes_over_from_a_live_lower_master() {
    let now = Instant::now();
    let mut cfg = config("b", 10, 150);
    cfg.preempt = false;
    let mut instance = started(cfg, now);
    let peer = config("a", 20, 100);
    for second in 1..20 {
        let t = now + Duration::from_secs(second);
        receive(&mut instance, t, &peer, 100);
        instance.handle_timeout(t);
    }
    assert_eq!(instance.state(), State::Backup);
}

#[test]
fn keepalived_preempt_delay_holds_preemption_after_start() {
    let now = Instant::now();
    let mut cfg = config("b", 10, 150);
    cfg.preempt_delay = Duration::from_secs(10);
    let down = cfg.master_down_interval(150);
    let mut instance = started(cfg, now);
    let peer = config("a", 20, 100);
    for second in 1..=9 {
        receive(&mut instance, now + Duration::from_secs(second), &peer, 100);
    }
    // Within the delay the lower-priority master kept us quiet.
    assert_eq!(
        instance.poll_timeout(),
        Some(now + Duration::from_secs(9) + down)
    );
    receive(&mut instance, now + Duration::from_secs(11), &peer, 100);
    instance.handle_timeout(now + Duration::from_secs(13));
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn rfc3768_6_4_3_a_late_wake_up_does_not_shift_later_adverts() {
    let now = Instant::now();
    let mut instance = Instance::new(config("owner", 10, 255));
    start(&mut instance, now);
    drain(&mut instance);
    // The advert due at 1 s is sent 30 ms late: the next is still due at 2 s.
    instance.handle_timeout(now + Duration::from_millis(1_030));
    assert_eq!(instance.poll_timeout(), Some(now + Duration::from_secs(2)));
    // More than an interval late: no burst, the timer restarts from the wake-up.
    instance.handle_timeout(now + Duration::from_millis(3_500));
    assert_eq!(sent_priorities(&drain(&mut instance)), vec![255, 255]);
    assert_eq!(
        instance.poll_timeout(),
        Some(now + Duration::from_millis(4_500))
    );
}

#[test]
fn rfc3768_6_4_3_a_spread_instance_keeps_its_place_in_the_interval() {
    let now = Instant::now();
    let ms = Duration::from_millis;
    let mut instance = Instance::new(config("owner", 10, 255));
    instance.set_advert_spread(ms(250));
    start(&mut instance, now);
    // The first advert leaves at once as master (section 6.4.1), the next a spread sooner
    // than the interval.
    assert_eq!(sent_priorities(&drain(&mut instance)), vec![255]);
    assert_eq!(instance.poll_timeout(), Some(now + ms(750)));
    // On time (or a little late): the cadence goes on from the deadline.
    instance.handle_timeout(now + ms(760));
    assert_eq!(instance.poll_timeout(), Some(now + ms(1_750)));
    // Half an interval late: restarted from the wake-up, the spread kept.
    instance.handle_timeout(now + ms(2_350));
    assert_eq!(instance.poll_timeout(), Some(now + ms(3_100)));
    assert_eq!(sent_priorities(&drain(&mut instance)), vec![255, 255]);
    // A priority-0 advert heard: an advert at once, the timer restarted with the spread.
    receive(&mut instance, now + ms(3_000), &config("b", 20, 100), 0);
    assert_eq!(sent_priorities(&drain(&mut instance)), vec![255]);
    assert_eq!(instance.poll_timeout(), Some(now + ms(3_750)));
}

#[test]
fn rfc3768_6_4_3_a_spread_is_at_most_half_an_interval() {
    let now = Instant::now();
    let mut instance = Instance::new(config("owner", 10, 255));
    instance.set_advert_spread(Duration::from_millis(900));
    start(&mut instance, now);
    drain(&mut instance);
    assert_eq!(
        instance.poll_timeout(),
        Some(now + Duration::from_millis(500))
    );
}

#[test]
fn rfc3768_6_4_2_instances_taking_over_at_once_advertise_apart() {
    // Four backups started together time out together; their first adverts leave at once,
    // the later ones in four places of the interval, and stay there.
    let now = Instant::now();
    let mut instances: Vec<Instance> = (0..4u32)
        .map(|k| {
            let mut instance = Instance::new(config("VI_1", 10, 100));
            instance.set_advert_spread(Duration::from_millis(125) * k);
            start(&mut instance, now);
            instance
        })
        .collect();
    let down = instances[0].poll_timeout().expect("Master_Down_Timer");
    for instance in &mut instances {
        assert_eq!(instance.poll_timeout(), Some(down));
        instance.handle_timeout(down);
        assert_eq!(instance.state(), State::Master);
        assert_eq!(sent_priorities(&drain(instance)), vec![100]);
    }
    for second in 1..=3u32 {
        let deadlines: Vec<Instant> = instances
            .iter()
            .map(|i| i.poll_timeout().expect("Adver_Timer"))
            .collect();
        let expected: Vec<Instant> = (0..4u32)
            .map(|k| down + Duration::from_secs(second.into()) - Duration::from_millis(125) * k)
            .collect();
        assert_eq!(deadlines, expected);
        for (instance, at) in instances.iter_mut().zip(deadlines) {
            instance.handle_timeout(at);
            assert_eq!(sent_priorities(&drain(instance)), vec![100]);
        }
    }
}

#[test]
fn rfc3768_6_4_3_adver_timer_sends_periodically() {
    let now = Instant::now();
    let mut instance = Instance::new(config("owner", 10, 255));
    start(&mut instance, now);
    drain(&mut instance);
    for second in 1..=3 {
        instance.handle_timeout(now + Duration::from_secs(second));
    }
    assert_eq!(sent_priorities(&drain(&mut instance)), vec![255, 255, 255]);
}

#[test]
fn rfc3768_6_4_3_master_yields_to_higher_priority() {
    let now = Instant::now();
    let mut instance = Instance::new(config("VI_1", 10, 100));
    start(&mut instance, now);
    instance.handle_timeout(now + Duration::from_secs(4));
    drain(&mut instance);
    receive(
        &mut instance,
        now + Duration::from_secs(5),
        &config("a", 20, 200),
        200,
    );
    let actions = drain(&mut instance);
    assert_eq!(instance.state(), State::Backup);
    assert!(actions.contains(&Action::RemoveAddresses));
    assert!(
        events(&actions)
            .iter()
            .any(|e| matches!(e, Event::HigherPriorityReceived { priority: 200, .. }))
    );
}

#[test]
fn rfc3768_6_4_3_equal_priority_higher_address_wins() {
    let now = Instant::now();
    let mut low = Instance::new(config("low", 10, 100));
    start(&mut low, now);
    low.handle_timeout(now + Duration::from_secs(4));
    drain(&mut low);
    receive(
        &mut low,
        now + Duration::from_secs(5),
        &config("high", 20, 100),
        100,
    );
    assert_eq!(low.state(), State::Backup, "192.0.2.20 > 192.0.2.10");

    let mut high = Instance::new(config("high", 20, 100));
    start(&mut high, now);
    high.handle_timeout(now + Duration::from_secs(4));
    drain(&mut high);
    receive(
        &mut high,
        now + Duration::from_secs(5),
        &config("low", 10, 100),
        100,
    );
    assert_eq!(high.state(), State::Master);
    assert_eq!(
        sent_priorities(&drain(&mut high)),
        vec![100],
        "answers at once"
    );
}

#[test]
fn rfc3768_6_4_3_priority_zero_is_answered_at_once() {
    let now = Instant::now();
    let mut instance = Instance::new(config("m", 10, 255));
    start(&mut instance, now);
    drain(&mut instance);
    let t = now + Duration::from_millis(300);
    receive(&mut instance, t, &config("x", 20, 100), 0);
    assert_eq!(sent_priorities(&drain(&mut instance)), vec![255]);
    assert_eq!(
        instance.poll_timeout(),
        Some(t + Duration::from_secs(1)),
        "Adver_Timer reset"
    );
}

#[test]
fn rfc3768_6_4_3_shutdown_sends_priority_zero_and_releases() {
    let now = Instant::now();
    let mut instance = Instance::new(config("VI_1", 10, 255));
    start(&mut instance, now);
    drain(&mut instance);
    instance.shutdown(now + Duration::from_secs(1));
    let actions = drain(&mut instance);
    assert_eq!(sent_priorities(&actions), vec![0]);
    assert!(actions.contains(&Action::RemoveAddresses));
    assert!(events(&actions).contains(&&Event::PriorityZeroSent { synced: false }));
    assert_eq!(instance.state(), State::Initialize);
    assert_eq!(instance.poll_timeout(), None);
}

#[test]
fn rfc3768_7_1_ttl_other_than_255_is_dropped_and_counted() {
    let now = Instant::now();
    let mut instance = started(config("b", 10, 100), now);
    let timer = instance.poll_timeout();
    let peer = config("a", 20, 200);
    let bytes = advert_from(&peer, 200);
    deliver(
        &mut instance,
        now + Duration::from_secs(1),
        peer.local_address,
        64,
        &bytes,
    );
    assert_eq!(instance.stats().dropped(DropReason::Ttl), 1);
    assert_eq!(
        instance.poll_timeout(),
        timer,
        "a dropped advert does not reset the timer"
    );
}

#[test]
fn rfc3768_7_1_wrong_password_is_dropped_so_both_become_master() {
    let now = Instant::now();
    let mut a = config("a", 10, 150);
    a.auth = Auth::pass(b"one");
    let mut b = config("b", 20, 100);
    b.auth = Auth::pass(b"two");
    let mut wire = Wire::new(vec![Instance::new(a), Instance::new(b)], now);
    wire.start_all();
    wire.run_for(Duration::from_secs(10));
    assert_eq!(wire.masters(), vec![0, 1]);
    assert!(wire.nodes[1].stats().dropped(DropReason::Password) > 0);
}

#[test]
fn rfc3768_7_1_interval_mismatch_and_auth_type_are_dropped() {
    let now = Instant::now();
    let mut instance = started(config("b", 10, 100), now);
    let peer = config("a", 20, 200);
    let mut advert = Advertisement {
        version: Version::V2,
        vrid: 51,
        priority: 200,
        interval_cs: 300,
        auth: peer.auth,
        addresses: vec![VIP],
    };
    let bytes = advert.to_bytes(peer.local_address, MULTICAST_GROUP);
    deliver(&mut instance, now, peer.local_address, TTL, &bytes);
    assert_eq!(instance.stats().dropped(DropReason::Interval), 1);
    advert.interval_cs = 100;
    advert.auth = Auth::None;
    let bytes = advert.to_bytes(peer.local_address, MULTICAST_GROUP);
    deliver(&mut instance, now, peer.local_address, TTL, &bytes);
    assert_eq!(instance.stats().dropped(DropReason::AuthType), 1);
}

#[test]
fn rfc3768_7_1_drops_are_logged_once_per_interval() {
    let now = Instant::now();
    let mut instance = started(config("b", 10, 100), now);
    for i in 0..1000 {
        let garbage = [0x21u8, 51, 100, 9, 1, 1, 0, 0];
        let at = now + Duration::from_millis(i);
        deliver(
            &mut instance,
            at,
            Ipv4Addr::new(192, 0, 2, 99).into(),
            TTL,
            &garbage,
        );
    }
    let logs = drain(&mut instance)
        .into_iter()
        .filter(|a| matches!(a, Action::Event(_)))
        .count();
    assert_eq!(logs, 1);
    assert_eq!(instance.stats().dropped(DropReason::Length), 1000);
}

/// An advert from `from` listing `addresses`.
fn advert_listing(from: &InstanceConfig, priority: u8, addresses: Vec<IpAddr>) -> Vec<u8> {
    Advertisement {
        version: from.version,
        vrid: from.vrid,
        priority,
        interval_cs: 100,
        auth: from.auth,
        addresses,
    }
    .to_bytes(from.local_address, MULTICAST_GROUP)
}

const VIP2: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 101));
const VIP3: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 102));

#[test]
fn rfc3768_7_1_another_address_count_is_dropped_even_from_the_owner() {
    // RFC 3768 section 7.1: the count and the list must match ours, and a mismatch is dropped
    // unless the sender is the owner; keepalived 2.2.7 drops it whatever the priority
    // (observed: `(VI_1) received an unexpected ip number count 2, expected 1!`), so does this
    // engine: the backup's Master_Down_Timer runs on.
    let now = Instant::now();
    let mut instance = started(config("b", 10, 100), now);
    let down = instance.poll_timeout();
    let peer = config("a", 20, 255);
    let bytes = advert_listing(&peer, 255, vec![VIP, VIP2]);
    deliver(&mut instance, now, peer.local_address, TTL, &bytes);
    let actions = drain(&mut instance);
    assert_eq!(
        events(&actions),
        vec![&Event::AddressesDiffer {
            from: peer.local_address,
            difference: AddressDifference::Count {
                received: 2,
                expected: 1
            },
        }]
    );
    assert_eq!(instance.stats().dropped(DropReason::Addresses), 1);
    assert_eq!(instance.stats().received, 0, "not accepted");
    assert_eq!(instance.poll_timeout(), down, "the timer was not reset");
}

#[test]
fn rfc3768_7_1_another_address_list_is_dropped_naming_the_first_of_ours_it_lacks() {
    let now = Instant::now();
    let mut cfg = config("b", 10, 100);
    cfg.addresses = vec![VIP, VIP2];
    let mut instance = started(cfg, now);
    let peer = config("a", 20, 150);
    // The same addresses in another order are the same list (2.2.7 looks each one up).
    let same = advert_listing(&peer, 150, vec![VIP2, VIP]);
    deliver(&mut instance, now, peer.local_address, TTL, &same);
    assert_eq!(instance.stats().received, 1);
    drain(&mut instance);
    let other = advert_listing(&peer, 150, vec![VIP, VIP3]);
    deliver(&mut instance, now, peer.local_address, TTL, &other);
    assert_eq!(
        events(&drain(&mut instance)),
        vec![&Event::AddressesDiffer {
            from: peer.local_address,
            difference: AddressDifference::Missing(VIP2),
        }]
    );
    assert_eq!(instance.stats().dropped(DropReason::Addresses), 1);
}

#[test]
fn rfc3768_7_1_address_drops_are_reported_once_per_advert_not_per_flood() {
    // 2.2.7 logs every such advert; a peer sends one per interval, so each is reported, but
    // a flood is reported at most twice per interval.
    let now = Instant::now();
    let mut instance = started(config("b", 10, 100), now);
    let peer = config("a", 20, 150);
    let bytes = advert_listing(&peer, 150, vec![VIP, VIP2]);
    let mut reports = 0;
    for i in 0..3 {
        deliver(
            &mut instance,
            now + Duration::from_millis(1000 * i + 3),
            peer.local_address,
            TTL,
            &bytes,
        );
        reports += events(&drain(&mut instance)).len();
    }
    assert_eq!(reports, 3, "one per advert at the advert interval");
    for i in 0..100 {
        let at = now + Duration::from_secs(3) + Duration::from_millis(i * 10);
        deliver(&mut instance, at, peer.local_address, TTL, &bytes);
    }
    let flood = events(&drain(&mut instance)).len();
    assert!(flood <= 2, "{flood} reports for a 1 s flood");
    assert_eq!(instance.stats().dropped(DropReason::Addresses), 103);
}

#[test]
fn keepalived_skip_check_adv_addr_trusts_the_master_it_already_heard() {
    let now = Instant::now();
    let mut instance = started(config("b", 10, 100), now);
    instance.set_contention(Contention {
        skip_check_adv_addr: true,
        ..Contention::default()
    });
    let master = config("a", 20, 150);
    let stranger = config("c", 30, 150);
    let two = |from: &InstanceConfig| advert_listing(from, 150, vec![VIP, VIP2]);
    // Not heard yet: checked.
    deliver(&mut instance, now, master.local_address, TTL, &two(&master));
    assert_eq!(instance.stats().dropped(DropReason::Addresses), 1);
    receive(&mut instance, now, &master, 150);
    deliver(&mut instance, now, master.local_address, TTL, &two(&master));
    assert_eq!(
        instance.stats().received,
        2,
        "the master heard is not checked again"
    );
    deliver(
        &mut instance,
        now,
        stranger.local_address,
        TTL,
        &two(&stranger),
    );
    assert_eq!(
        instance.stats().dropped(DropReason::Addresses),
        2,
        "others are"
    );
}

#[test]
fn scenario_a_pair_with_other_address_lists_has_two_masters() {
    // keepalived 2.2.7 (observed): each drops the other's adverts, both become master.
    let now = Instant::now();
    let a = config("A", 10, 150);
    let mut b = config("B", 20, 100);
    b.addresses = vec![VIP, VIP2];
    let mut wire = Wire::new(vec![Instance::new(a), Instance::new(b)], now);
    wire.start_all();
    wire.run_for(Duration::from_secs(10));
    assert_eq!(wire.masters(), vec![0, 1]);
    assert!(wire.nodes[0].stats().dropped(DropReason::Addresses) > 0);
    assert!(wire.nodes[1].stats().dropped(DropReason::Addresses) > 0);
}

#[test]
fn keepalived_fault_releases_and_returns_to_backup() {
    let now = Instant::now();
    let mut instance = Instance::new(config("VI_1", 10, 255));
    start(&mut instance, now);
    drain(&mut instance);
    let fault = Tracking {
        priority: 255,
        fault: Some(FaultCause::LinkDown),
    };
    instance.track(now, fault);
    let actions = drain(&mut instance);
    assert_eq!(instance.state(), State::Fault);
    assert_eq!(sent_priorities(&actions), vec![0]);
    assert!(actions.contains(&Action::RemoveAddresses));
    assert_eq!(instance.poll_timeout(), None);
    let healthy = Tracking::healthy(instance.config());
    instance.track(now + Duration::from_secs(1), healthy);
    assert_eq!(instance.state(), State::Backup);
}

#[test]
fn keepalived_start_on_a_down_link_is_fault_without_backup_first() {
    // keepalived 2.2.7 (observed): `(VI_1): entering FAULT state (interface eth0 down)` and
    // notify_fault only; notify_backup never runs before it.
    let now = Instant::now();
    let mut instance = Instance::new(config("VI_1", 10, 100));
    let down = Tracking {
        priority: 100,
        fault: Some(FaultCause::LinkDown),
    };
    instance.start(now, down);
    let actions = drain(&mut instance);
    assert_eq!(
        actions,
        vec![
            Action::RemoveAddresses,
            Action::Event(Event::StartedInFault(FaultCause::LinkDown)),
            Action::StateChanged(State::Fault),
        ]
    );
    assert_eq!(instance.poll_timeout(), None);
    // The link comes up: BACKUP with a fresh Master_Down_Timer.
    let up = now + Duration::from_secs(2);
    let healthy = Tracking::healthy(instance.config());
    instance.track(up, healthy);
    assert_eq!(instance.state(), State::Backup);
    assert_eq!(
        instance.poll_timeout(),
        Some(up + Duration::from_micros(3_609_375))
    );
}

#[test]
fn keepalived_fault_from_backup_sends_nothing_and_reports_in_order() {
    let now = Instant::now();
    let mut instance = started(config("VI_1", 10, 100), now);
    let fault = Tracking {
        priority: 100,
        fault: Some(FaultCause::Tracked),
    };
    instance.track(now, fault);
    assert_eq!(
        drain(&mut instance),
        vec![
            Action::Event(Event::Entering(State::Fault)),
            Action::StateChanged(State::Fault),
            Action::Event(Event::NowInFault),
        ]
    );
}

#[test]
fn rfc5798_5_2_8_unicast_adverts_carry_the_checksum_of_their_peer() {
    let now = Instant::now();
    let peers: Vec<IpAddr> = vec![
        Ipv4Addr::new(192, 0, 2, 20).into(),
        Ipv4Addr::new(192, 0, 2, 30).into(),
    ];
    let mut cfg = config("VI_1", 10, 255);
    cfg.version = Version::V3;
    cfg.auth = Auth::None;
    cfg.destination = Destination::Unicast(Unicast::to(peers.clone()));
    let src = cfg.local_address;
    let mut instance = Instance::new(cfg);
    start(&mut instance, now);
    let sends: Vec<(IpAddr, IpAddr, Vec<u8>)> = drain(&mut instance)
        .into_iter()
        .filter_map(|a| match a {
            Action::Send {
                src,
                dst,
                ttl: 255,
                payload,
            } => Some((src, dst, payload)),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 2, "one advert to each peer");
    for ((from, to, payload), peer) in sends.iter().zip(&peers) {
        assert_eq!((*from, *to), (src, *peer));
        assert!(Advertisement::parse(payload, src, *peer).is_ok());
        assert!(Advertisement::parse(payload, src, MULTICAST_GROUP).is_err());
    }
    assert_eq!(instance.stats().sent, 1, "one advert, sent to two peers");
}

// Scenarios on the in-memory wire.

fn pair(p0: u8, p1: u8) -> Wire {
    let now = Instant::now();
    Wire::new(
        vec![
            Instance::new(config("A", 10, p0)),
            Instance::new(config("B", 20, p1)),
        ],
        now,
    )
}

#[test]
fn scenario_higher_priority_wins_the_election() {
    let mut wire = pair(150, 100);
    wire.start_all();
    wire.run_for(Duration::from_secs(10));
    assert_eq!(wire.masters(), vec![0]);
    assert_eq!(wire.holders(), vec![0]);
}

#[test]
fn scenario_equal_priority_is_decided_by_address() {
    let mut wire = pair(100, 100);
    wire.start_all();
    wire.run_for(Duration::from_secs(10));
    assert_eq!(wire.masters(), vec![1], "192.0.2.20 wins");
    assert_eq!(wire.holders(), vec![1]);
}

#[test]
fn scenario_graceful_stop_hands_over_after_skew_time() {
    let mut wire = pair(150, 100);
    wire.start_all();
    wire.run_for(Duration::from_secs(10));
    let stop = wire.now;
    wire.nodes[0].shutdown(stop);
    wire.deliver();
    wire.run_for(Duration::from_secs(5));
    assert_eq!(wire.masters(), vec![1]);
    let took_over = wire.events.iter().find_map(|e| match e {
        WireEvent::State {
            node: 1,
            at,
            state: State::Master,
        } if *at > stop => Some(*at),
        _ => None,
    });
    assert_eq!(took_over, Some(stop + Duration::from_micros(609_375)));
}

#[test]
fn scenario_crash_hands_over_after_master_down_interval() {
    let mut wire = pair(150, 100);
    wire.start_all();
    wire.run_for(Duration::from_secs(10));
    let last_advert = wire.events.iter().rev().find_map(|e| match e {
        WireEvent::Advert { node: 0, at, .. } => Some(*at),
        _ => None,
    });
    wire.connected[0] = false;
    wire.run_for(Duration::from_secs(10));
    let took_over = wire.events.iter().find_map(|e| match e {
        WireEvent::State {
            node: 1,
            at,
            state: State::Master,
        } => Some(*at),
        _ => None,
    });
    let last = last_advert.expect("A advertised");
    assert_eq!(took_over, Some(last + Duration::from_micros(3_609_375)));
}

#[test]
fn scenario_preemption_and_nopreempt() {
    // B is master alone; A (higher) joins: with preemption A takes over, with nopreempt not.
    for preempt in [true, false] {
        let now = Instant::now();
        let mut a = config("A", 10, 150);
        a.preempt = preempt;
        let mut wire = Wire::new(
            vec![Instance::new(a), Instance::new(config("B", 20, 100))],
            now,
        );
        wire.connected[0] = false;
        wire.start(1);
        wire.run_for(Duration::from_secs(5));
        assert_eq!(wire.masters(), vec![1]);
        wire.connected[0] = true;
        wire.start(0);
        wire.run_for(Duration::from_secs(10));
        let expected = if preempt { vec![0] } else { vec![1] };
        assert_eq!(wire.masters(), expected, "preempt = {preempt}");
        assert_eq!(wire.holders(), expected);
    }
}

#[test]
fn scenario_three_routers_one_master() {
    let now = Instant::now();
    let mut wire = Wire::new(
        vec![
            Instance::new(config("A", 10, 100)),
            Instance::new(config("B", 20, 200)),
            Instance::new(config("C", 30, 150)),
        ],
        now,
    );
    wire.start_all();
    wire.run_for(Duration::from_secs(10));
    assert_eq!(wire.masters(), vec![1]);
    wire.connected[1] = false;
    wire.run_for(Duration::from_secs(10));
    assert_eq!(
        wire.masters(),
        vec![1, 2],
        "the cut router still thinks it is master"
    );
    assert_eq!(wire.nodes[0].state(), State::Backup);
}

#[test]
fn keepalived_effective_priority_change_is_logged_and_advertised() {
    let now = Instant::now();
    let mut instance = Instance::new(config("VI_1", 10, 100));
    start(&mut instance, now);
    instance.handle_timeout(now + Duration::from_secs(4));
    drain(&mut instance);
    let weaker = Tracking {
        priority: 80,
        fault: None,
    };
    instance.track(now + Duration::from_secs(5), weaker);
    let actions = drain(&mut instance);
    assert!(events(&actions).contains(&&Event::PriorityChanged { from: 100, to: 80 }));
    instance.handle_timeout(now + Duration::from_secs(6));
    assert_eq!(sent_priorities(&drain(&mut instance)), vec![80]);
    // A backup with a higher base priority now preempts the weakened master.
    let mut owner = Instance::new(config("owner", 10, 255));
    start(&mut owner, now);
    let weaker = Tracking {
        priority: 100,
        fault: None,
    };
    owner.track(now, weaker);
    assert_eq!(owner.priority(), 255, "the address owner never changes");
}

fn unicast_config(only_from_peers: bool, ttl: u8) -> InstanceConfig {
    let mut cfg = config("VI_1", 10, 100);
    cfg.destination = Destination::Unicast(Unicast {
        peers: vec![Ipv4Addr::new(192, 0, 2, 20).into()],
        ttl,
        only_from_peers,
    });
    cfg
}

#[test]
fn keepalived_unicast_hears_anyone_and_any_ttl_by_default() {
    // keepalived 2.2.7 (observed): without check_unicast_src a unicast instance takes adverts
    // from addresses that are not peers, and with TTL 64.
    let now = Instant::now();
    let mut instance = started(unicast_config(false, 255), now);
    let stranger = config("x", 30, 200);
    let bytes = advert_from(&stranger, 200);
    deliver(&mut instance, now, stranger.local_address, 64, &bytes);
    assert_eq!(instance.stats().received, 1);
    assert_eq!(
        instance.poll_timeout(),
        Some(now + Duration::from_micros(3_609_375)),
        "the timer was reset"
    );
}

#[test]
fn keepalived_check_unicast_src_drops_adverts_from_non_peers() {
    let now = Instant::now();
    let mut instance = started(unicast_config(true, 255), now);
    let timer = instance.poll_timeout();
    let stranger = config("x", 30, 200);
    let bytes = advert_from(&stranger, 200);
    deliver(&mut instance, now, stranger.local_address, TTL, &bytes);
    assert_eq!(instance.stats().dropped(DropReason::NotPeer), 1);
    assert_eq!(instance.poll_timeout(), timer);
    let peer = config("p", 20, 200);
    let bytes = advert_from(&peer, 200);
    deliver(&mut instance, now, peer.local_address, TTL, &bytes);
    assert_eq!(instance.stats().received, 1, "the peer is heard");
}

#[test]
fn keepalived_unicast_ttl_is_the_ttl_adverts_leave_with() {
    let now = Instant::now();
    let mut cfg = unicast_config(false, 64);
    cfg.priority = 255;
    let mut instance = Instance::new(cfg);
    start(&mut instance, now);
    let ttls: Vec<u8> = drain(&mut instance)
        .into_iter()
        .filter_map(|a| match a {
            Action::Send { ttl, .. } => Some(ttl),
            _ => None,
        })
        .collect();
    assert_eq!(ttls, vec![64]);
}
