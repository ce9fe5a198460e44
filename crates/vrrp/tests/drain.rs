//! Drain (maintenance): a drained master hands over with a priority-0 advert and stays BACKUP,
//! whatever its priority and however long no master is heard; undrained, it takes part in the
//! election again.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use keepalived_vrrp::instance::{
    Action, Destination, Instance, InstanceConfig, Received, State, Tracking,
};
use keepalived_vrrp::packet::{Advertisement, Auth, MULTICAST_GROUP, Packet, TTL, Version};

const LOCAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

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
        addresses: vec![VIP.into()],
        local_address: LOCAL.into(),
        destination: Destination::Multicast(MULTICAST_GROUP.into()),
        garp_master_delay: Duration::from_secs(5),
        garp_master_refresh: None,
        start_backup: false,
    }
}

fn actions(instance: &mut Instance) -> Vec<Action> {
    std::iter::from_fn(|| instance.poll_action()).collect()
}

/// The priorities of the adverts among `actions`.
fn sent_priorities(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { payload, .. } => {
                Packet::new_checked(&payload[..]).ok().map(|p| p.priority())
            }
            _ => None,
        })
        .collect()
}

fn advert_from_peer(instance: &mut Instance, now: Instant, priority: u8) {
    let advert = Advertisement {
        version: Version::V2,
        vrid: 1,
        priority,
        interval_cs: 100,
        auth: Auth::None,
        addresses: vec![VIP.into()],
    };
    let payload = advert.to_bytes(PEER, MULTICAST_GROUP);
    instance.handle_packet(
        now,
        Received {
            src: IpAddr::V4(PEER),
            dst: IpAddr::V4(MULTICAST_GROUP),
            ttl: TTL,
            payload: &payload,
        },
    );
}

/// Runs every deadline due up to `until`, at its time; returns the actions.
fn run_until(instance: &mut Instance, until: Instant) -> Vec<Action> {
    let mut all = Vec::new();
    for _ in 0..10_000 {
        match instance.poll_timeout() {
            Some(at) if at <= until => {
                instance.handle_timeout(at);
                all.extend(actions(instance));
            }
            _ => break,
        }
    }
    all
}

#[test]
fn a_drained_master_sends_priority_zero_and_becomes_backup() {
    let now = Instant::now();
    let mut instance = Instance::new(config(255));
    instance.start(now, Tracking::healthy(instance.config()));
    actions(&mut instance);
    assert_eq!(instance.state(), State::Master);
    instance.set_drained(now, true);
    let done = actions(&mut instance);
    assert_eq!(sent_priorities(&done), vec![0], "one priority-0 advert");
    assert!(done.contains(&Action::RemoveAddresses));
    assert!(done.contains(&Action::StateChanged(State::Backup)));
    assert_eq!(instance.state(), State::Backup);
    assert!(instance.drained());
    assert_eq!(instance.stats().priority_zero_sent, 1);
}

#[test]
fn a_drained_backup_stays_backup_with_no_master_and_takes_over_once_undrained() {
    let now = Instant::now();
    let mut instance = Instance::new(config(150));
    instance.set_drained(now, true);
    instance.start(now, Tracking::healthy(instance.config()));
    actions(&mut instance);
    // No master for a minute: still backup, no advert sent.
    let done = run_until(&mut instance, now + Duration::from_secs(60));
    assert!(sent_priorities(&done).is_empty());
    assert_eq!(instance.state(), State::Backup);
    assert!(instance.poll_timeout().is_some(), "still watching");
    // A lower-priority master appears; drained, we do not preempt it.
    let t = now + Duration::from_secs(61);
    advert_from_peer(&mut instance, t, 100);
    assert_eq!(instance.master_heard(), Some((IpAddr::V4(PEER), 100)));
    run_until(&mut instance, t + Duration::from_secs(10));
    assert_eq!(instance.state(), State::Backup);
    // Undrained: its Master_Down_Timer fires (lower-priority adverts do not reset it).
    let t = t + Duration::from_secs(10);
    instance.set_drained(t, false);
    advert_from_peer(&mut instance, t, 100);
    let done = run_until(&mut instance, t + Duration::from_secs(5));
    assert_eq!(instance.state(), State::Master);
    assert_eq!(sent_priorities(&done).first(), Some(&150));
    assert_eq!(instance.master_heard(), None, "only known in BACKUP");
}

#[test]
fn undraining_a_backup_under_a_higher_master_changes_nothing() {
    let now = Instant::now();
    let mut instance = Instance::new(config(100));
    instance.start(now, Tracking::healthy(instance.config()));
    instance.set_drained(now, true);
    instance.set_drained(now, false);
    advert_from_peer(&mut instance, now, 200);
    let done = run_until(&mut instance, now + Duration::from_millis(500));
    assert!(done.is_empty());
    assert_eq!(instance.state(), State::Backup);
    assert!(!instance.drained());
}
