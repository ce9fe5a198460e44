//! VRRPv3 over IPv4 between two hosts on a bridge (root only): our daemon against our daemon,
//! and against keepalived 2.2.7 in both roles (the pairs of the testlab prelude).
//!
//! Host a (192.0.2.10, priority 150) is the preferred master, b (192.0.2.11, priority 100) the
//! backup. RFC 5798 timing with advert_int 0.05: Skew_Time at 100 = 156 × 50 ms / 256 =
//! 30.5 ms, Master_Down_Interval = 180.5 ms (section 6.1). Every advert on the wire is decoded
//! by tshark: VRRPv3, a good checksum (over the pseudo-header of the destination it went to),
//! TTL 255.

use std::net::Ipv4Addr;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keepalived_testlab::prelude::{
    Daemon, Version, daemon_log, for_each_pair, master_down_interval_for, skew_time_for,
};
use keepalived_testlab::{Advert, Capture, Frame, Host, Keepalived, Lab, VrrpInstance, adverts};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

const VIP: &str = "192.0.2.100";
const VRID: u8 = 61;
/// Start-up plus an election, with room for a loaded CI machine.
const ELECTION: Duration = Duration::from_secs(8);

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn instance(priority: u8, advert_int: &str) -> VrrpInstance {
    VrrpInstance::new(VRID, priority, &["192.0.2.100/32"])
        .version(3)
        .advert_int(advert_int)
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

fn has(host: &Host) -> bool {
    host.has_address(VIP)
        .unwrap_or_else(|e| panic!("addresses of {}: {e:#}", host.name()))
}

/// Stops the capture; every VRRP advert of `host` for [`VRID`], each checked: VRRPv3, a good
/// checksum, TTL 255, to `dst`, advertising `interval`.
fn adverts_of(frames: &[Frame], host: &Host, dst: Ipv4Addr, interval: Duration) -> Vec<Advert> {
    let from: Vec<Advert> = adverts(frames)
        .into_iter()
        .filter(|x| x.src == host.address() && x.vrid == VRID)
        .cloned()
        .collect();
    for x in &from {
        assert!(x.checksum_good, "bad checksum: {x:?}");
        assert_eq!((x.version, x.kind, x.ttl), (3, 1, 255), "{x:?}");
        assert_eq!(x.dst, dst, "{x:?}");
        assert_eq!(x.adver_int, interval, "{x:?}");
        assert_eq!(x.auth_type, None, "{x:?}");
    }
    from
}

fn frames(capture: &mut Capture) -> Vec<Frame> {
    capture.frames().expect("tshark decodes the capture")
}

/// Ours only: running, and nothing dropped or failed.
fn assert_clean(which: Daemon, k: &mut Keepalived) {
    if which != Daemon::Ours {
        return;
    }
    assert!(k.is_running(), "our daemon exited:\n{}", daemon_log(k));
    let text = daemon_log(k);
    for bad in ["dropped an advert", "cannot ", "panicked", "error"] {
        assert!(!text.contains(bad), "our daemon logged `{bad}`:\n{text}");
    }
}

/// advert_int 0.05: a master and a backup joining it, 20 adverts a second, graceful hand-over after Skew_Time,
/// preemption back, then a crash handed over after Master_Down_Interval.
fn fast_v3(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let interval = Duration::from_millis(50);
    let group = Ipv4Addr::new(224, 0, 0, 18);
    let mut capture = lab.capture_bridge().expect("capture");
    // a first, master alone, then b joins (Master_Down_Intervals differ by 10 ms here: started
    // together, start-up jitter would decide).
    let mut ka = x.start(OURS, a, &instance(150, "0.05").render("a"));
    wait_vip(a, &ka, true, ELECTION);
    let mut kb = y.start(OURS, b, &instance(100, "0.05").render("b"));
    assert!(
        kb.wait_for_log("(VI_1) Entering BACKUP STATE", Duration::from_secs(5)),
        "b did not start:\n{}",
        daemon_log(&kb)
    );
    wait_vip(b, &kb, false, Duration::from_secs(2));
    let steady = now() + 0.2;
    thread::sleep(Duration::from_millis(1200));
    assert!(has(a) && !has(b), "the VIP moved in steady state");
    // Graceful stop: priority 0, b takes over after its Skew_Time.
    let status = ka.stop().expect("SIGTERM stops a");
    assert!(
        status.success(),
        "a exited with {status}:\n{}",
        daemon_log(&ka)
    );
    wait_vip(b, &kb, true, Duration::from_secs(2));
    // a comes back and preempts.
    let mut ka = x.start(OURS, a, &instance(150, "0.05").render("a"));
    wait_vip(a, &ka, true, ELECTION);
    wait_vip(b, &kb, false, Duration::from_secs(2));
    thread::sleep(Duration::from_millis(500));
    // Crash: b takes over after Master_Down_Interval.
    let crashed = now();
    ka.kill().expect("SIGKILL a");
    wait_vip(b, &kb, true, Duration::from_secs(2));
    thread::sleep(Duration::from_millis(300));
    assert_clean(y, &mut kb);
    let frames = frames(&mut capture);
    let from_a = adverts_of(&frames, a, group, interval);
    let from_b = adverts_of(&frames, b, group, interval);
    let per_second = from_a
        .iter()
        .filter(|x| x.time > steady && x.time < steady + 1.0)
        .count();
    assert!(
        (12..=25).contains(&per_second),
        "{per_second} adverts from a in 1 s at advert_int 0.05"
    );
    let zero = from_a
        .iter()
        .find(|x| x.priority == 0)
        .expect("a's priority-0 advert");
    let took_over = from_b
        .iter()
        .find(|x| x.time > zero.time && x.priority == 100)
        .expect("b advertised after a's priority 0");
    // RFC 5798 section 6.1, as the engine computes it.
    let skew = skew_time_for(Version::V3, interval, 100).as_secs_f64();
    let gap = took_over.time - zero.time;
    assert!(
        gap < skew + 0.25,
        "b took over {gap:.3} s after priority 0, Skew_Time is {skew:.4} s"
    );
    let last_a = from_a
        .iter()
        .rfind(|x| x.time < crashed + 0.1)
        .expect("a advertised before the crash");
    let after_crash = from_b
        .iter()
        .find(|x| x.time > last_a.time && x.time > crashed)
        .expect("b advertised after the crash");
    let down = master_down_interval_for(Version::V3, interval, 100).as_secs_f64();
    let gap = after_crash.time - last_a.time;
    assert!(
        gap > down - 0.02 && gap < down + 0.4,
        "b took over {gap:.3} s after a's last advert, Master_Down_Interval is {down:.4} s"
    );
}

/// Unicast VRRPv3: each advert carries the checksum of the peer it goes to, so both daemons
/// accept the other's adverts and one master is elected.
fn unicast_v3(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let unicast = |me: &Host, peer: &Host, priority: u8| {
        instance(priority, "1")
            .extra(&format!("unicast_src_ip {}", me.address()))
            .extra(&format!(
                "unicast_peer {{\n        {}\n    }}",
                peer.address()
            ))
            .render(me.name())
    };
    let mut capture = lab.capture_bridge().expect("capture");
    let mut ka = x.start(OURS, a, &unicast(a, b, 150));
    wait_vip(a, &ka, true, ELECTION);
    let mut kb = y.start(OURS, b, &unicast(b, a, 100));
    thread::sleep(Duration::from_millis(4500));
    assert!(has(a) && !has(b), "one master: a");
    assert!(
        !daemon_log(&kb).contains("Entering MASTER STATE"),
        "b became master:\n{}",
        daemon_log(&kb)
    );
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
    let frames = frames(&mut capture);
    let from_a = adverts_of(&frames, a, b.address(), Duration::from_secs(1));
    assert!(from_a.len() >= 3, "{from_a:#?}");
    assert!(from_a.iter().all(|x| x.priority == 150), "{from_a:#?}");
}

#[test]
fn v3_ipv4_at_advert_int_0_05_elects_hands_over_and_survives_a_crash() {
    for_each_pair("v3fast", fast_v3);
}

#[test]
fn v3_ipv4_unicast_checksums_are_for_the_peer() {
    for_each_pair("v3uni", unicast_v3);
}
