//! VRRPv3 over IPv6 between two hosts on a bridge (root only): our daemon against our daemon,
//! and against keepalived 2.2.7 in both roles (the pairs of the testlab prelude); and VRRPv3
//! `nopreempt` over both families.
//!
//! The instances name no `version`: an instance with IPv6 VIPs runs VRRPv3 (keepalived 2.2.7,
//! observed). Host a (priority 150) is the preferred master, b (priority 100) the backup. Every
//! IPv6 advert on the wire is decoded by tshark: VRRPv3, a good checksum over the IPv6
//! pseudo-header, no expert remark (malformed, bad checksum), hop limit 255 to ff02::12 from the
//! sender's link-local address (RFC 5798 sections 5.1.2 and 5.2.8), or hop limit 64 to a unicast
//! peer; each new master's unsolicited neighbour advertisements are seen on the wire.
//!
//! With `version 2` in the instance both daemons run keepalived 2.2.7's VRRPv2 over IPv6
//! instead: 24-byte messages for one VIP (no authentication data), Adver Int in seconds, a
//! checksum over the IPv6 pseudo-header that tshark (which checks the message alone) calls bad.

use std::net::Ipv6Addr;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keepalived_testlab::ipv6::{Advert6, FILTER_V6, Na, decode_v6, link_local};
use keepalived_testlab::prelude::{
    Daemon, Version, daemon_log, entering, for_each_pair, master_down_interval_for, skew_time_for,
};
use keepalived_testlab::{Capture, HOST_IF, Host, Keepalived, Lab, VrrpInstance};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

const VIP: &str = "2001:db8::100";
/// A /128 VIP: added deprecated (preferred_lft 0), as keepalived.conf(5) says.
const VIP128: &str = "2001:db8::101";
const VRID: u8 = 62;
/// Start-up plus an election, with room for a loaded CI machine.
const ELECTION: Duration = Duration::from_secs(8);
/// keepalived 2.2.7's remark when the first IPv6 VIP of a multicast instance is not
/// link-local (ours prefixes `VRRP_Instance`).
const LINK_LOCAL_REMARK: &str = "(VI_1) the first IPv6 VIP address should be link local";
/// Duplicate address detection of the hosts' link-local addresses.
const DAD: Duration = Duration::from_secs(10);

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn instance(priority: u8, advert_int: &str) -> VrrpInstance {
    VrrpInstance::new(VRID, priority, &["2001:db8::100/64", VIP128]).advert_int(advert_int)
}

fn wait_vip(host: &Host, k: &Keepalived, vip: &str, present: bool, within: Duration) {
    assert!(
        host.wait_for_address(vip, present, within),
        "{} {} {vip} within {within:?}; its log:\n{}",
        host.name(),
        if present {
            "did not get"
        } else {
            "did not drop"
        },
        k.log().unwrap_or_default()
    );
}

fn has(host: &Host, vip: &str) -> bool {
    host.has_address(vip)
        .unwrap_or_else(|e| panic!("addresses of {}: {e:#}", host.name()))
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

/// Both hosts' link-local addresses, once usable.
fn link_locals(lab: &Lab) -> (Ipv6Addr, Ipv6Addr) {
    let ll = |h: &str| link_local(lab.host(h), HOST_IF, DAD).expect("link-local address");
    (ll("a"), ll("b"))
}

fn decoded(capture: &mut Capture) -> (Vec<Advert6>, Vec<Na>) {
    capture.stop().expect("stop the capture");
    decode_v6(capture.path()).expect("tshark decodes the capture")
}

/// The adverts from `src` for [`VRID`], each checked: VRRPv3, a good checksum and no expert
/// remark from tshark, to `dst` with `hop_limit`, traffic class 0xc0, advertising `interval`.
fn adverts_from(
    all: &[Advert6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    interval: Duration,
) -> Vec<Advert6> {
    let from: Vec<Advert6> = all
        .iter()
        .filter(|x| x.src == src && x.vrid == VRID)
        .cloned()
        .collect();
    for x in &from {
        assert!(x.checksum_good && x.expert.is_empty(), "tshark: {x:?}");
        assert_eq!(
            (x.version, x.dst, x.hop_limit),
            (3, dst, hop_limit),
            "{x:?}"
        );
        assert_eq!((x.tclass, x.adver_int), (0xc0, interval), "{x:?}");
        assert_eq!(
            x.addresses,
            vec![
                VIP.parse::<Ipv6Addr>().expect("vip"),
                VIP128.parse().expect("vip")
            ],
            "{x:?}"
        );
    }
    from
}

/// The unsolicited neighbour advertisements `host` sent after `since` for `vip`, each checked
/// as keepalived 2.2.7 sends them: from the VIP to ff02::1 (Ethernet 33:33:00:00:00:01), hop
/// limit 255, Override set, Solicited and Router clear, our MAC as target link-layer address,
/// a good checksum.
fn nas_for(nas: &[Na], host: &Host, vip: &str, since: f64) -> usize {
    let mac = host.mac(HOST_IF).expect("mac");
    let vip: Ipv6Addr = vip.parse().expect("vip");
    let mine: Vec<&Na> = nas
        .iter()
        .filter(|n| n.time > since && n.target == vip && n.eth.0 == mac)
        .collect();
    for n in &mine {
        assert_eq!(n.eth.1, "33:33:00:00:00:01", "{n:?}");
        assert_eq!(n.ip, (vip, "ff02::1".parse().expect("all-nodes")), "{n:?}");
        assert_eq!((n.hop_limit, n.flags), (255, (false, false, true)), "{n:?}");
        assert_eq!(n.target_mac, mac, "{n:?}");
        assert!(n.checksum_good, "{n:?}");
    }
    mine.len()
}

/// Whether `vip` (a /128) is deprecated on `host` (preferred_lft 0).
fn deprecated(host: &Host, vip: &str) -> bool {
    let out = host
        .run("ip", &["-6", "addr", "show", "dev", HOST_IF])
        .expect("ip addr");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .any(|l| l.contains(&format!("{vip}/128")) && l.contains("deprecated"))
}

/// `version 2` in an IPv6 instance: VRRPv2 over IPv6 as keepalived 2.2.7 sends it. a (150) is
/// master, b (100) joins as backup and stays there; a's graceful stop (priority 0) hands the
/// VIP to b after Skew_Time. Every advert of both hosts is of 2.2.7's form.
fn v2_over_ipv6(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let (lla, llb) = link_locals(lab);
    let conf = |priority: u8, host: &str| {
        VrrpInstance::new(VRID, priority, &["2001:db8::100/64"])
            .version(2)
            .render(host)
    };
    let mut capture = lab.capture_bridge_filter(FILTER_V6).expect("capture");
    let mut ka = x.start(OURS, a, &conf(150, "a"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    let mut kb = y.start(OURS, b, &conf(100, "b"));
    assert!(
        kb.wait_for_log(&entering("VI_1", "BACKUP"), Duration::from_secs(5)),
        "b did not start:\n{}",
        daemon_log(&kb)
    );
    // Longer than b's Master_Down_Interval (3.6 s at advert_int 1): b hears a's adverts.
    thread::sleep(Duration::from_millis(4500));
    assert!(has(a, VIP) && !has(b, VIP), "the VIP moved in steady state");
    assert!(
        !daemon_log(&kb).contains("Entering MASTER STATE"),
        "b became master while a advertised:\n{}",
        daemon_log(&kb)
    );
    for (which, k) in [(x, &mut ka), (y, &mut kb)] {
        assert_clean(which, k);
        assert!(
            !daemon_log(k).contains("not supported"),
            "{which:?}: {}",
            daemon_log(k)
        );
    }
    let status = ka.stop().expect("SIGTERM stops a");
    assert!(status.success(), "a exited with {status}");
    wait_vip(b, &kb, VIP, true, Duration::from_secs(3));
    thread::sleep(Duration::from_millis(1200));
    assert_clean(y, &mut kb);
    let (adverts, _) = decoded(&mut capture);
    let vip: Ipv6Addr = VIP.parse().expect("vip");
    let group: Ipv6Addr = "ff02::12".parse().expect("group");
    let mut seen = [0usize; 2];
    for x in adverts.iter().filter(|x| x.vrid == VRID) {
        let from = [lla, llb].iter().position(|s| *s == x.src);
        let Some(i) = from else {
            panic!("an advert from elsewhere: {x:?}");
        };
        seen[i] += 1;
        assert_eq!(
            (x.version, x.payload_len, x.dst, x.hop_limit, x.tclass),
            (2, 24, group, 255, 0xc0),
            "{x:?}"
        );
        assert_eq!(
            (x.adver_int, &x.addresses),
            (Duration::from_secs(1), &vec![vip]),
            "{x:?}"
        );
        // The checksum covers the IPv6 pseudo-header; tshark checks the message alone.
        assert!(
            !x.checksum_good
                && x.expert
                    .starts_with("Expert Info (Warning/Checksum): Bad checksum"),
            "{x:?}"
        );
    }
    assert!(
        seen[0] >= 5 && seen[1] >= 1,
        "adverts from a and b: {seen:?}"
    );
}

/// An IPv6 instance whose interface has no link-local address (and no configured source):
/// FAULT at start with keepalived 2.2.7's line, a global address does not help, a link-local
/// one added brings it to BACKUP then MASTER (alone on the link), and its removal back to
/// FAULT. Run for `which` alone on host a.
fn without_link_local(lab: &Lab, which: Daemon) {
    let a = lab.host("a");
    let ip = |args: &[&str]| {
        let out = a.run("ip", args).expect("ip");
        assert!(out.status.success(), "ip {args:?}: {out:?}");
    };
    // No link-local address, and none generated again.
    ip(&["link", "set", HOST_IF, "addrgenmode", "none"]);
    ip(&["-6", "addr", "flush", "dev", HOST_IF, "scope", "link"]);
    let mut k = which.start(
        OURS,
        a,
        &VrrpInstance::new(VRID, 150, &["2001:db8::100/64"]).render("a"),
    );
    let within = Duration::from_secs(5);
    assert!(
        k.wait_for_log(
            "(VI_1) entering FAULT state (no IPv6 address for interface)",
            within
        ),
        "{which:?} did not start in FAULT:\n{}",
        daemon_log(&k)
    );
    ip(&["addr", "add", "2001:db8::5/64", "dev", HOST_IF, "nodad"]);
    thread::sleep(Duration::from_millis(1500));
    assert!(
        !daemon_log(&k).contains(&entering("VI_1", "BACKUP")),
        "{which:?} left FAULT with a global address only:\n{}",
        daemon_log(&k)
    );
    ip(&["addr", "add", "fe80::5/64", "dev", HOST_IF, "nodad"]);
    assert!(
        k.wait_for_log(&entering("VI_1", "BACKUP"), within),
        "{which:?} did not leave FAULT:\n{}",
        daemon_log(&k)
    );
    wait_vip(a, &k, VIP, true, ELECTION);
    ip(&["addr", "del", "fe80::5/64", "dev", HOST_IF]);
    assert!(
        k.wait_for_log(&entering("VI_1", "FAULT"), within),
        "{which:?} did not go back to FAULT:\n{}",
        daemon_log(&k)
    );
    wait_vip(a, &k, VIP, false, within);
    assert!(k.is_running(), "{which:?} exited:\n{}", daemon_log(&k));
    let status = k.stop().expect("SIGTERM");
    assert!(status.success(), "{which:?} exited with {status}");
}

/// advert_int 0.1: a master and a backup joining it, graceful hand-over after Skew_Time,
/// preemption back, then a crash handed over after Master_Down_Interval.
fn v6_election(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let (lla, llb) = link_locals(lab);
    let interval = Duration::from_millis(100);
    let group: Ipv6Addr = "ff02::12".parse().expect("group");
    let mut capture = lab.capture_bridge_filter(FILTER_V6).expect("capture");
    let t0 = now();
    let mut ka = x.start(OURS, a, &instance(150, "0.1").render("a"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    assert!(deprecated(a, VIP128), "the /128 VIP is not deprecated on a");
    // A remark only, for multicast instances (RFC 5798 section 5.2.9).
    assert!(
        daemon_log(&ka).contains(LINK_LOCAL_REMARK),
        "{x:?} did not remark on the first VIP:\n{}",
        daemon_log(&ka)
    );
    let mut kb = y.start(OURS, b, &instance(100, "0.1").render("b"));
    assert!(
        kb.wait_for_log(&entering("VI_1", "BACKUP"), Duration::from_secs(5)),
        "b did not start:\n{}",
        daemon_log(&kb)
    );
    thread::sleep(Duration::from_millis(800));
    assert!(has(a, VIP) && !has(b, VIP), "the VIP moved in steady state");
    // Graceful stop: priority 0, b takes over after its Skew_Time.
    let status = ka.stop().expect("SIGTERM stops a");
    assert!(
        status.success(),
        "a exited with {status}:\n{}",
        daemon_log(&ka)
    );
    wait_vip(b, &kb, VIP, true, Duration::from_secs(3));
    // a comes back and preempts.
    let back = now();
    let mut ka = x.start(OURS, a, &instance(150, "0.1").render("a"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    wait_vip(b, &kb, VIP, false, Duration::from_secs(3));
    thread::sleep(Duration::from_millis(500));
    assert_clean(x, &mut ka);
    // Crash: b takes over after Master_Down_Interval.
    let crashed = now();
    ka.kill().expect("SIGKILL a");
    wait_vip(b, &kb, VIP, true, Duration::from_secs(3));
    thread::sleep(Duration::from_millis(300));
    assert_clean(y, &mut kb);
    let (adverts, nas) = decoded(&mut capture);
    let from_a = adverts_from(&adverts, lla, group, 255, interval);
    let from_b = adverts_from(&adverts, llb, group, 255, interval);
    assert!(from_a.len() >= 10, "{} adverts from a", from_a.len());
    // Each master announced its VIPs: five unsolicited NAs each (garp_master_repeat 5).
    assert!(nas_for(&nas, a, VIP, t0) >= 10, "a's NAs: {nas:#?}");
    assert!(nas_for(&nas, a, VIP128, back) >= 5, "a's NAs: {nas:#?}");
    assert!(nas_for(&nas, b, VIP, t0) >= 10, "b's NAs: {nas:#?}");
    let zero = from_a
        .iter()
        .find(|x| x.priority == 0)
        .expect("a's priority-0 advert");
    let took_over = from_b
        .iter()
        .find(|x| x.time > zero.time && x.priority == 100)
        .expect("b advertised after a's priority 0");
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

/// Unicast VRRPv3 over IPv6: adverts to the peer's global address with hop limit 64 (as
/// keepalived 2.2.7 sends them), each with the checksum of that peer; one master is elected.
fn v6_unicast(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let addr = |h: &Host, n: u8| {
        let cidr = format!("2001:db8::{n}/64");
        let out = h
            .run("ip", &["addr", "add", &cidr, "dev", HOST_IF, "nodad"])
            .expect("ip addr add");
        assert!(out.status.success(), "ip addr add {cidr} on {}", h.name());
        format!("2001:db8::{n}")
    };
    let (ua, ub) = (addr(a, 10), addr(b, 11));
    link_locals(lab);
    let unicast = |me: &Host, src: &str, peer: &str, priority: u8| {
        instance(priority, "1")
            .extra(&format!("unicast_src_ip {src}"))
            .extra(&format!("unicast_peer {{\n        {peer}\n    }}"))
            .render(me.name())
    };
    let mut capture = lab.capture_bridge_filter(FILTER_V6).expect("capture");
    let mut ka = x.start(OURS, a, &unicast(a, &ua, &ub, 150));
    wait_vip(a, &ka, VIP, true, ELECTION);
    let mut kb = y.start(OURS, b, &unicast(b, &ub, &ua, 100));
    thread::sleep(Duration::from_millis(4500));
    assert!(has(a, VIP) && !has(b, VIP), "one master: a");
    assert!(
        !daemon_log(&kb).contains("Entering MASTER STATE"),
        "b became master:\n{}",
        daemon_log(&kb)
    );
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
    assert!(
        !daemon_log(&ka).contains(LINK_LOCAL_REMARK),
        "{x:?} remarked on the first VIP of a unicast instance"
    );
    let (adverts, _) = decoded(&mut capture);
    let (ua, ub): (Ipv6Addr, Ipv6Addr) = (ua.parse().expect("a"), ub.parse().expect("b"));
    let from_a = adverts_from(&adverts, ua, ub, 64, Duration::from_secs(1));
    assert!(from_a.len() >= 3, "{adverts:#?}");
    assert!(from_a.iter().all(|x| x.priority == 150), "{from_a:#?}");
}

/// `nopreempt` with VRRPv3 over `family`: b (priority 100) is master alone; a (150) joins with
/// nopreempt and stays backup while b's adverts keep coming.
fn nopreempt(lab: &Lab, x: Daemon, y: Daemon, ipv6: bool) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let conf = |p: u8| {
        if ipv6 {
            instance(p, "0.1").nopreempt()
        } else {
            VrrpInstance::new(VRID, p, &["192.0.2.100/32"])
                .version(3)
                .advert_int("0.1")
                .nopreempt()
        }
    };
    let vip = if ipv6 {
        link_locals(lab);
        VIP
    } else {
        "192.0.2.100"
    };
    let mut kb = y.start(OURS, b, &conf(100).render("b"));
    wait_vip(b, &kb, vip, true, ELECTION);
    let mut ka = x.start(OURS, a, &conf(150).render("a"));
    assert!(
        ka.wait_for_log(&entering("VI_1", "BACKUP"), Duration::from_secs(5)),
        "a did not start:\n{}",
        daemon_log(&ka)
    );
    thread::sleep(Duration::from_secs(2));
    assert!(
        has(b, vip) && !has(a, vip),
        "a preempted b despite nopreempt"
    );
    assert!(
        !daemon_log(&ka).contains("Entering MASTER STATE"),
        "a became master:\n{}",
        daemon_log(&ka)
    );
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
    // b stops: a takes over (nopreempt only keeps a working master).
    let status = kb.stop().expect("SIGTERM stops b");
    assert!(status.success(), "b exited with {status}");
    wait_vip(a, &ka, vip, true, Duration::from_secs(3));
}

fn nopreempt_v6(lab: &Lab, x: Daemon, y: Daemon) {
    nopreempt(lab, x, y, true);
}

fn nopreempt_v4(lab: &Lab, x: Daemon, y: Daemon) {
    nopreempt(lab, x, y, false);
}

#[test]
fn v3_ipv6_elects_hands_over_preempts_and_survives_a_crash() {
    for_each_pair("v6elect", v6_election);
}

#[test]
fn v2_over_ipv6_as_keepalived_sends_it_elects_and_hands_over() {
    for_each_pair("v2v6", v2_over_ipv6);
}

#[test]
fn ipv6_instance_without_link_local_waits_in_fault_as_keepalived_does() {
    if !keepalived_testlab::prelude::lab_ready() {
        return;
    }
    let run = |which: Daemon, tag: &str| {
        let lab = Lab::new(tag, &["a"]).expect("lab");
        without_link_local(&lab, which);
    };
    thread::scope(|s| {
        let ours = s.spawn(|| run(Daemon::Ours, "v6noll0"));
        let real = s.spawn(|| run(Daemon::Real, "v6noll1"));
        let results = [("ours", ours.join()), ("keepalived 2.2.7", real.join())];
        let failed: Vec<&str> = results
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(name, _)| *name)
            .collect();
        assert!(
            failed.is_empty(),
            "failed for {failed:?} (see the panics above)"
        );
    });
}

#[test]
fn v3_ipv6_unicast_hop_limit_64_and_checksums_for_the_peer() {
    for_each_pair("v6uni", v6_unicast);
}

#[test]
fn v3_ipv6_nopreempt_keeps_the_master() {
    for_each_pair("v6nopre", nopreempt_v6);
}

#[test]
fn v3_ipv4_nopreempt_keeps_the_master() {
    for_each_pair("v4nopre", nopreempt_v4);
}
