//! Findings of the fuzz targets in crates/vrrp/fuzz, each kept as a plain test so it stays
//! fixed without cargo fuzz.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use keepalived_vrrp::instance::{Action, Destination, Instance, InstanceConfig, State, Tracking};
use keepalived_vrrp::packet::{Auth, MULTICAST_GROUP, Version};

fn config(garp_master_delay: Duration, garp_master_refresh: Option<Duration>) -> InstanceConfig {
    InstanceConfig {
        name: "VI_1".into(),
        interface: "eth0".into(),
        vrid: 51,
        priority: 255,
        advert_interval: Duration::from_secs(1),
        preempt: true,
        preempt_delay: Duration::ZERO,
        auth: Auth::None,
        version: Version::V2,
        addresses: vec![Ipv4Addr::new(192, 0, 2, 100).into()],
        local_address: Ipv4Addr::new(192, 0, 2, 10).into(),
        destination: Destination::Multicast(MULTICAST_GROUP.into()),
        garp_master_delay,
        garp_master_refresh,
        start_backup: false,
    }
}

/// Runs every timer due up to `until` the way the daemon does, and returns when each
/// gratuitous ARP burst was asked for.
fn run_until(instance: &mut Instance, mut now: Instant, until: Instant) -> Vec<Instant> {
    let mut bursts = Vec::new();
    for _ in 0..1000 {
        while let Some(action) = instance.poll_action() {
            // The bursts on becoming master, after garp_master_delay, and the refreshes.
            if matches!(action, Action::Announce | Action::Reannounce(_)) {
                bursts.push(now);
            }
        }
        match instance.poll_timeout() {
            Some(due) if due <= until => {
                now = now.max(due);
                instance.handle_timeout(now);
            }
            _ => break,
        }
    }
    bursts
}

/// vrrp_engine: with `garp_master_delay 0` a new master left its gratuitous ARP timer due at
/// the moment it became master, so the daemon woke up at once and sent the second burst right
/// after the first. keepalived.conf(5): "0 for no second set".
#[test]
fn garp_master_delay_zero_sends_no_second_burst() {
    let t0 = Instant::now();
    let mut instance = Instance::new(config(Duration::ZERO, None));
    let tracking = Tracking::healthy(instance.config());
    instance.start(t0, tracking);
    assert_eq!(instance.state(), State::Master);
    assert_eq!(
        instance.poll_timeout(),
        Some(t0 + Duration::from_secs(1)),
        "the only timer is the next advert"
    );
    let bursts = run_until(&mut instance, t0, t0 + Duration::from_secs(30));
    assert_eq!(bursts, vec![t0], "one burst, on becoming master");
}

/// The same with `garp_master_refresh`: the refresh bursts still come, every refresh interval
/// from becoming master, and nothing comes early.
#[test]
fn garp_master_delay_zero_keeps_the_refresh() {
    let t0 = Instant::now();
    let every = Duration::from_secs(10);
    let mut instance = Instance::new(config(Duration::ZERO, Some(every)));
    let tracking = Tracking::healthy(instance.config());
    instance.start(t0, tracking);
    let bursts = run_until(&mut instance, t0, t0 + Duration::from_secs(25));
    assert_eq!(bursts, vec![t0, t0 + every, t0 + 2 * every]);
}

/// Unchanged for a non-zero delay: the second burst after the delay, then the refreshes.
#[test]
fn garp_master_delay_gives_the_second_burst() {
    let t0 = Instant::now();
    let delay = Duration::from_secs(5);
    let every = Duration::from_secs(10);
    let mut instance = Instance::new(config(delay, Some(every)));
    let tracking = Tracking::healthy(instance.config());
    instance.start(t0, tracking);
    let bursts = run_until(&mut instance, t0, t0 + Duration::from_secs(20));
    assert_eq!(bursts, vec![t0, t0 + delay, t0 + delay + every]);
}
