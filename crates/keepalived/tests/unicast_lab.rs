//! VRRPv2 with unicast peers (root only), our daemon against our daemon and against
//! keepalived 2.2.7 both ways, and keepalived's rule for adverts from addresses that are not
//! peers (`check_unicast_src`), our daemon and 2.2.7 on the same scenario.
//!
//! Host a (192.0.2.10, priority 150) and b (192.0.2.11, priority 100) name each other as
//! `unicast_peer`; x (192.0.2.12) is a stranger that injects adverts.

use std::path::Path;
use std::thread;
use std::time::Duration;

use keepalived_testlab::prelude::{Daemon, daemon_log, for_each_pair, lab_ready};
use keepalived_testlab::{ForgedAdvert, Host, Injector, Keepalived, Lab, VrrpInstance, adverts};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

const VIP: &str = "192.0.2.100";
const VRID: u8 = 71;
/// Start-up plus an election, with room for a loaded CI machine.
const ELECTION: Duration = Duration::from_secs(8);

fn unicast(me: &Host, peer: &Host, priority: u8, extra: &[&str]) -> String {
    let mut instance = VrrpInstance::new(VRID, priority, &["192.0.2.100/32"])
        .extra(&format!("unicast_src_ip {}", me.address()))
        .extra(&format!(
            "unicast_peer {{\n        {}\n    }}",
            peer.address()
        ));
    for line in extra {
        instance = instance.extra(line);
    }
    instance.render(me.name())
}

fn wait_vip(host: &Host, k: &Keepalived, present: bool, within: Duration) {
    assert!(
        host.wait_for_address(VIP, present, within),
        "{} {} {VIP} within {within:?}; its log:\n{}",
        host.name(),
        if present {
            "did not get"
        } else {
            "did not drop"
        },
        k.log().unwrap_or_default()
    );
}

/// A master, a backup joining it, and a graceful hand-over over unicast; every advert a sends goes to
/// b's address with TTL 255 and a good checksum.
fn election(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut capture = lab.capture_bridge().expect("capture");
    // a first, master alone; then b joins and must stay backup (started together, a slow
    // start-up of a on a loaded machine could let b's timer fire first).
    let mut ka = x.start(OURS, a, &unicast(a, b, 150, &[]));
    wait_vip(a, &ka, true, ELECTION);
    let kb = y.start(OURS, b, &unicast(b, a, 100, &[]));
    thread::sleep(Duration::from_millis(4500));
    assert!(!b.has_address(VIP).expect("addresses of b"), "two masters");
    assert!(
        !daemon_log(&kb).contains("Entering MASTER STATE"),
        "b became master:\n{}",
        daemon_log(&kb)
    );
    let status = ka.stop().expect("SIGTERM stops a");
    assert!(status.success(), "a exited with {status}");
    wait_vip(b, &kb, true, Duration::from_secs(3));
    let frames = capture.frames().expect("tshark decodes the capture");
    let from_a: Vec<_> = adverts(&frames)
        .into_iter()
        .filter(|v| v.src == a.address() && v.vrid == VRID)
        .collect();
    assert!(from_a.len() >= 3, "{from_a:#?}");
    for v in &from_a {
        assert!(v.checksum_good, "{v:?}");
        assert_eq!((v.dst, v.ttl, v.version), (b.address(), 255, 2), "{v:?}");
    }
    assert_eq!(
        from_a.last().map(|v| v.priority),
        Some(0),
        "priority 0 on stop"
    );
}

#[test]
fn unicast_v2_elects_and_hands_over() {
    for_each_pair("uni", election);
}

/// a alone as master; x injects higher-priority adverts to a's address from 192.0.2.12, which
/// is not a peer: with `check_unicast_src` a stays master, without it a steps down (both as
/// keepalived 2.2.7 does, observed).
fn stranger(daemon: Daemon, check: bool) {
    if !lab_ready() {
        return;
    }
    let tag = format!(
        "unistr{}{}",
        u8::from(daemon == Daemon::Ours),
        u8::from(check)
    );
    let lab = Lab::new(&tag, &["a", "b", "x"]).expect("lab");
    let (a, b, x) = (lab.host("a"), lab.host("b"), lab.host("x"));
    let extra: &[&str] = if check { &["check_unicast_src"] } else { &[] };
    let ka = match daemon {
        Daemon::Ours => Keepalived::start_with(a, Path::new(OURS), &unicast(a, b, 150, extra), &[]),
        Daemon::Real => Keepalived::start(a, &unicast(a, b, 150, extra)),
    }
    .expect("start a");
    wait_vip(a, &ka, true, ELECTION);
    let injector = Injector::open(x, "eth0").expect("injector");
    let vip = VIP.parse().expect("VIP");
    let mut advert = ForgedAdvert::v2(x.address(), VRID, 254, &[vip]);
    advert.dst = a.address();
    for _ in 0..4 {
        injector.send(&advert).expect("inject");
        thread::sleep(Duration::from_millis(250));
    }
    thread::sleep(Duration::from_millis(500));
    let log = daemon_log(&ka);
    let kept = a.has_address(VIP).expect("addresses of a");
    let refused = format!(
        "(VI_1) unicast source address {} not a unicast peer",
        x.address()
    );
    if check {
        assert!(kept, "{daemon:?} gave the VIP up to a stranger:\n{log}");
        assert!(log.contains(&refused), "{daemon:?} did not say why:\n{log}");
    } else {
        assert!(
            !kept,
            "{daemon:?} ignored the stranger without check_unicast_src:\n{log}"
        );
        assert!(!log.contains(&refused), "{log}");
    }
}

#[test]
fn check_unicast_src_refuses_strangers_ours() {
    stranger(Daemon::Ours, true);
}

#[test]
fn check_unicast_src_refuses_strangers_keepalived() {
    stranger(Daemon::Real, true);
}

#[test]
fn without_check_unicast_src_strangers_are_heard_ours() {
    stranger(Daemon::Ours, false);
}

#[test]
fn without_check_unicast_src_strangers_are_heard_keepalived() {
    stranger(Daemon::Real, false);
}
