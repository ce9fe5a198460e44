//! VRRPv3 rules of RFC 5798 on a virtual clock, named after their section.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use keepalived_vrrp::instance::{
    Action, Destination, DropReason, Instance, InstanceConfig, Phase, Received, State, Tracking,
};
use keepalived_vrrp::packet::{
    Advertisement, Auth, MULTICAST_GROUP, MULTICAST_GROUP_V6, TTL, Version,
};

fn config(last_octet: u8, priority: u8, interval: Duration) -> InstanceConfig {
    InstanceConfig {
        name: "VI_3".into(),
        interface: "eth0".into(),
        vrid: 53,
        priority,
        advert_interval: interval,
        preempt: true,
        preempt_delay: Duration::ZERO,
        auth: Auth::None,
        version: Version::V3,
        addresses: vec![Ipv4Addr::new(192, 0, 2, 103).into()],
        local_address: Ipv4Addr::new(192, 0, 2, last_octet).into(),
        destination: Destination::Multicast(MULTICAST_GROUP.into()),
        garp_master_delay: Duration::from_secs(5),
        garp_master_refresh: None,
        start_backup: false,
    }
}

/// A v3 advert from 192.0.2.`last_octet` with `priority`, advertising every `interval_cs`.
fn receive(instance: &mut Instance, now: Instant, last_octet: u8, priority: u8, interval_cs: u16) {
    let src: IpAddr = Ipv4Addr::new(192, 0, 2, last_octet).into();
    let bytes = Advertisement {
        version: Version::V3,
        vrid: 53,
        priority,
        interval_cs,
        auth: Auth::None,
        addresses: instance.config().addresses.clone(),
    }
    .to_bytes(src, MULTICAST_GROUP);
    instance.handle_packet(
        now,
        Received {
            src,
            dst: MULTICAST_GROUP.into(),
            ttl: TTL,
            payload: &bytes,
        },
    );
    while instance.poll_action().is_some() {}
}

fn started(cfg: InstanceConfig, now: Instant) -> Instance {
    let mut instance = Instance::new(cfg);
    let tracking = Tracking::healthy(instance.config());
    instance.start(now, tracking);
    while instance.poll_action().is_some() {}
    instance
}

#[test]
fn rfc5798_6_1_backup_starts_with_its_own_interval_and_a_scaled_skew() {
    let now = Instant::now();
    let instance = started(config(10, 100, Duration::from_millis(50)), now);
    // 3 × 50 ms + (256 - 100) × 50 ms / 256.
    assert_eq!(
        instance.poll_timeout(),
        Some(now + Duration::from_nanos(180_468_750))
    );
}

#[test]
fn rfc5798_6_4_2_backup_learns_master_adver_interval() {
    let now = Instant::now();
    let mut instance = started(config(10, 100, Duration::from_secs(1)), now);
    let t = now + Duration::from_millis(200);
    receive(&mut instance, t, 20, 150, 50);
    let Phase::Backup(timers) = instance.phase() else {
        panic!("still backup");
    };
    assert_eq!(timers.master_adver_interval, Duration::from_millis(500));
    assert_eq!(
        timers.master_down_at,
        t + Duration::from_millis(1500) + Duration::from_nanos(304_687_500)
    );
    // Priority 0: Skew_Time of the learned interval.
    let t2 = t + Duration::from_millis(100);
    receive(&mut instance, t2, 20, 0, 50);
    assert_eq!(
        instance.poll_timeout(),
        Some(t2 + Duration::from_nanos(304_687_500))
    );
}

#[test]
fn rfc5798_6_4_2_a_lower_master_teaches_nothing_when_preempting() {
    let now = Instant::now();
    let mut instance = started(config(10, 200, Duration::from_secs(1)), now);
    let before = instance.poll_timeout();
    receive(
        &mut instance,
        now + Duration::from_millis(100),
        20,
        100,
        300,
    );
    assert_eq!(instance.poll_timeout(), before, "ignored, so we preempt");
    let Phase::Backup(timers) = instance.phase() else {
        panic!("still backup");
    };
    assert_eq!(timers.master_adver_interval, Duration::from_secs(1));
}

#[test]
fn rfc5798_6_4_3_master_yielding_learns_the_new_masters_interval() {
    let now = Instant::now();
    let mut instance = started(config(10, 255, Duration::from_secs(1)), now);
    assert_eq!(instance.state(), State::Master);
    // The owner never yields; a lower configured one does.
    let mut lower = started(config(10, 100, Duration::from_secs(1)), now);
    lower.handle_timeout(now + Duration::from_secs(4));
    while lower.poll_action().is_some() {}
    assert_eq!(lower.state(), State::Master);
    let t = now + Duration::from_secs(5);
    receive(&mut lower, t, 20, 150, 200);
    let Phase::Backup(timers) = lower.phase() else {
        panic!("yielded to the higher priority");
    };
    assert_eq!(timers.master_adver_interval, Duration::from_secs(2));
    assert_eq!(
        timers.master_down_at,
        t + Duration::from_secs(6) + Duration::from_nanos(1_218_750_000)
    );
    // The owner answers a lower priority and stays master, whatever its interval.
    receive(&mut instance, t, 20, 100, 200);
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn rfc5798_7_1_another_address_count_or_list_is_dropped() {
    // RFC 5798 section 7.1 (MAY verify, drop unless from the owner); keepalived 2.2.7 checks
    // v3 adverts as v2 ones and drops a mismatch from any priority (observed).
    let now = Instant::now();
    let mut instance = started(config(10, 100, Duration::from_secs(1)), now);
    let down = instance.poll_timeout();
    let src: IpAddr = Ipv4Addr::new(192, 0, 2, 20).into();
    let other: IpAddr = Ipv4Addr::new(192, 0, 2, 104).into();
    for addresses in [vec![instance.config().addresses[0], other], vec![other]] {
        let bytes = Advertisement {
            version: Version::V3,
            vrid: 53,
            priority: 255,
            interval_cs: 100,
            auth: Auth::None,
            addresses,
        }
        .to_bytes(src, MULTICAST_GROUP);
        instance.handle_packet(
            now,
            Received {
                src,
                dst: MULTICAST_GROUP.into(),
                ttl: TTL,
                payload: &bytes,
            },
        );
    }
    assert_eq!(instance.stats().dropped(DropReason::Addresses), 2);
    assert_eq!(instance.stats().received, 0);
    assert_eq!(instance.poll_timeout(), down);
}

#[test]
fn rfc5798_v2_interval_is_never_learned() {
    let now = Instant::now();
    let mut cfg = config(10, 100, Duration::from_secs(1));
    cfg.version = Version::V2;
    let instance = started(cfg, now);
    let Phase::Backup(timers) = instance.phase() else {
        panic!("backup");
    };
    assert_eq!(timers.master_adver_interval, Duration::from_secs(1));
    assert_eq!(
        timers.master_down_at,
        now + Duration::from_micros(3_609_375),
        "RFC 3768: Skew_Time is not scaled"
    );
}

/// An IPv6 instance: VIP 2001:db8::103, its link-local source fe80::`last`, adverts to ff02::12.
fn config_v6(last: u16, priority: u8) -> InstanceConfig {
    InstanceConfig {
        addresses: vec![IpAddr::V6(Ipv6Addr::new(
            0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x103,
        ))],
        local_address: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last)),
        destination: Destination::Multicast(MULTICAST_GROUP_V6.into()),
        ..config(1, priority, Duration::from_secs(1))
    }
}

#[test]
fn rfc5798_5_1_2_3_ipv6_hop_limit_must_be_255_and_adverts_leave_from_the_link_local() {
    let t0 = Instant::now();
    let mut backup = started(config_v6(2, 100), t0);
    let src = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    let group = IpAddr::V6(MULTICAST_GROUP_V6);
    let bytes = Advertisement {
        version: Version::V3,
        vrid: 53,
        priority: 150,
        interval_cs: 100,
        auth: Auth::None,
        addresses: backup.config().addresses.clone(),
    }
    .to_bytes(src, group);
    // Section 7.1: a hop limit other than 255 means the advert crossed a router: dropped.
    backup.handle_packet(
        t0,
        Received {
            src,
            dst: group,
            ttl: 254,
            payload: &bytes,
        },
    );
    assert_eq!(backup.stats().dropped(DropReason::Ttl), 1);
    assert_eq!(backup.stats().received, 0);
    backup.handle_packet(
        t0,
        Received {
            src,
            dst: group,
            ttl: 255,
            payload: &bytes,
        },
    );
    assert_eq!(backup.stats().received, 1);
    // Section 5.1.2.1 / 5.2.8: a master's advert goes from its link-local address to
    // ff02::12, with the checksum over that IPv6 pseudo-header.
    let mut owner = started(config_v6(3, 255), t0);
    owner.handle_timeout(t0 + Duration::from_secs(1));
    let sent: Vec<Action> = std::iter::from_fn(|| owner.poll_action()).collect();
    let (from, to, payload) = sent
        .iter()
        .find_map(|a| match a {
            Action::Send {
                src, dst, payload, ..
            } => Some((*src, *dst, payload.clone())),
            _ => None,
        })
        .expect("the owner advertises");
    assert_eq!(
        (from, to),
        (
            IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 3)),
            group
        )
    );
    let advert = Advertisement::parse(&payload, from, to).expect("a valid v3 advert");
    assert_eq!((advert.priority, advert.version), (255, Version::V3));
}
