//! Two hosts running the real keepalived 2.2.7 (root only): the harness sees the election, the
//! adverts and GARPs on the wire, and the hand-over on SIGTERM and on a crash.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use keepalived_testlab::{
    Keepalived, LAB_PROGRAMS, Lab, VrrpInstance, adverts, garps, require_programs, require_root,
};

const VIP: &str = "192.0.2.100";

fn ready() -> bool {
    require_root() && require_programs(LAB_PROGRAMS)
}

fn config(priority: u8, router_id: &str) -> String {
    VrrpInstance::new(51, priority, &["192.0.2.100/32"])
        .auth_pass("secret12")
        .render(router_id)
}

/// Starts keepalived on a (priority 150) and b (100) and waits until a holds the VIP alone.
fn elect(lab: &Lab) -> (Keepalived, Keepalived) {
    let a = lab.host("a");
    let b = lab.host("b");
    let ka = Keepalived::start(a, &config(150, "a")).expect("start keepalived on a");
    let kb = Keepalived::start(b, &config(100, "b")).expect("start keepalived on b");
    // Master_Down_Interval = 3 * 1 + (256 - 150) / 256 = 3.41 s after start.
    assert!(
        a.wait_for_address(VIP, true, Duration::from_secs(8)),
        "a never took the VIP:\n{}",
        ka.log().unwrap_or_default()
    );
    assert!(
        b.wait_for_address(VIP, false, Duration::from_secs(3)),
        "b still holds the VIP"
    );
    assert!(ka.wait_for_log("(VI_1) Entering MASTER STATE", Duration::from_secs(2)));
    (ka, kb)
}

#[test]
fn real_keepalived_pair_elects_and_hands_over_on_sigterm() {
    if !ready() {
        return;
    }
    let lab = Lab::new("pair", &["a", "b"]).expect("lab");
    let (a, b) = (lab.host("a"), lab.host("b"));
    let (a_mac, b_mac) = (a.mac("eth0").expect("mac"), b.mac("eth0").expect("mac"));
    let mut capture = lab.capture_bridge().expect("capture");
    let (mut ka, kb) = elect(&lab);

    // A few adverts in steady state; b must stay BACKUP.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(a.has_address(VIP).expect("addresses of a"));
    assert!(!b.has_address(VIP).expect("addresses of b"));

    let t0 = Instant::now();
    ka.stop().expect("SIGTERM keepalived on a");
    assert!(
        b.wait_for_address(VIP, true, Duration::from_secs(4)),
        "the VIP did not move to b within 4 s:\n{}",
        kb.log().unwrap_or_default()
    );
    let moved = t0.elapsed();
    assert!(
        !a.has_address(VIP).expect("addresses of a"),
        "a kept the VIP after stopping"
    );
    assert!(
        ka.log()
            .expect("log of a")
            .contains("(VI_1) sent 0 priority")
    );
    std::thread::sleep(Duration::from_millis(1200));

    let frames = capture.frames().expect("decode capture");
    let ads = adverts(&frames);
    let from_a: Vec<_> = ads.iter().filter(|x| x.src == a.address()).collect();
    let vip: Ipv4Addr = VIP.parse().expect("VIP");
    assert!(from_a.len() >= 3, "too few adverts from a: {ads:#?}");
    for x in &from_a {
        assert_eq!(x.ttl, 255, "{x:?}");
        assert_eq!(x.tos, 0xc0, "{x:?}");
        assert_eq!(x.dst, Ipv4Addr::new(224, 0, 0, 18), "{x:?}");
        assert_eq!((x.version, x.kind, x.vrid), (2, 1, 51), "{x:?}");
        assert_eq!(
            (x.auth_type, x.auth_string.as_deref()),
            (Some(1), Some("secret12"))
        );
        assert_eq!(x.adver_int, Duration::from_secs(1));
        assert_eq!(x.addresses, [vip]);
        assert_eq!(x.addr_count, 1);
        assert_eq!(x.src_mac, a_mac);
        assert!(x.checksum_good, "{x:?}");
    }
    let (last, steady) = from_a.split_last().expect("adverts from a");
    assert!(steady.iter().all(|x| x.priority == 150), "{steady:#?}");
    assert_eq!(
        last.priority, 0,
        "the last advert of a is not priority 0: {last:?}"
    );

    // GARPs for the VIP from a (when it became MASTER) and then from b (on take-over).
    let g = garps(&frames);
    let garp_a: Vec<_> = g.iter().filter(|x| x.sender_mac == a_mac).collect();
    let garp_b: Vec<_> = g.iter().filter(|x| x.sender_mac == b_mac).collect();
    assert!(
        !garp_a.is_empty() && garp_a.iter().all(|x| x.sender_ip == vip),
        "{g:#?}"
    );
    assert!(
        !garp_b.is_empty() && garp_b.iter().all(|x| x.sender_ip == vip),
        "{g:#?}"
    );
    assert!(garp_a.iter().all(|x| x.eth_dst == "ff:ff:ff:ff:ff:ff"));
    assert!(garp_b.iter().all(|x| x.time > last.time));

    // b takes over one Skew_Time after the priority-0 advert: (256 - 100) / 256 = 0.61 s.
    let first_b = ads
        .iter()
        .find(|x| x.src == b.address() && x.time > last.time)
        .expect("an advert from b after the priority-0 advert");
    assert_eq!(first_b.priority, 100);
    assert!(first_b.checksum_good && first_b.ttl == 255);
    let gap = first_b.time - last.time;
    assert!(
        (0.5..1.5).contains(&gap),
        "b answered {gap:.3} s after the priority-0 advert"
    );
    eprintln!("VIP moved to b {moved:?} after SIGTERM; b advertised {gap:.3} s after priority 0");
}

#[test]
fn real_keepalived_pair_hands_over_on_crash() {
    if !ready() {
        return;
    }
    let lab = Lab::new("crash", &["a", "b"]).expect("lab");
    let (a, b) = (lab.host("a"), lab.host("b"));
    let (mut ka, _kb) = elect(&lab);

    let t0 = Instant::now();
    ka.kill().expect("SIGKILL keepalived on a");
    // Master_Down_Interval for b = 3 + (256 - 100) / 256 = 3.61 s.
    assert!(
        b.wait_for_address(VIP, true, Duration::from_secs(6)),
        "b did not take over after the crash"
    );
    let took = t0.elapsed();
    assert!(
        took > Duration::from_secs(2),
        "b took over too early: {took:?}"
    );
    // Killed without clean-up, a keeps the VIP: the address is now on both hosts.
    assert!(a.has_address(VIP).expect("addresses of a"));
    eprintln!("b took over {took:?} after SIGKILL of a");
}
