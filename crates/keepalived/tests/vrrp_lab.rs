//! VRRP between two hosts on a bridge (root only): our daemon against our daemon, and against
//! keepalived 2.2.7 in both roles.
//!
//! Every scenario runs three times at once, each time in a lab of its own: (a, b) =
//! (ours, ours), (ours, keepalived) and (keepalived, ours). Host a (192.0.2.10) is the one the
//! scenario prefers as master (priority 150 against 100), except where the scenario says
//! otherwise. Each run asserts where the VIPs are (netlink, through `ip -j addr`) and what was on
//! the wire (dumpcap on the bridge, decoded by tshark: every VRRP packet decodes as VRRP, with a
//! good checksum, TTL 255, the addresses and authentication configured; the GARPs for the VIPs
//! come from the master's MAC).
//!
//! Timing with advert_int 1: Master_Down_Interval = 3 + (256 - priority) / 256 s, so 3.41 s at
//! priority 150 and 3.61 s at 100; Skew_Time at 100 = 0.61 s.

use std::net::Ipv4Addr;
use std::path::Path;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keepalived_testlab::prelude::Daemon::{self, Ours, Real};
use keepalived_testlab::prelude::{daemon_log, for_each_pair, log_count};
use keepalived_testlab::{
    Advert, Capture, Frame, Host, Keepalived, Lab, VrrpInstance, adverts, garps, read_pcap,
    render_config,
};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// The VIP of the single-instance scenarios.
const VIP: &str = "192.0.2.100";
const VRID: u8 = 51;
const PASS: &str = "secret12";

/// How long a host may take to become master from start: Master_Down_Interval (at most 3.61 s)
/// plus start-up, with room for a loaded CI machine.
const ELECTION: Duration = Duration::from_secs(8);

/// Now, in seconds since the Unix epoch (the clock of capture time stamps).
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("an IPv4 address")
}

/// The single instance of most scenarios: VRID 51, PASS secret12, VIP 192.0.2.100/32.
fn instance(priority: u8) -> VrrpInstance {
    VrrpInstance::new(VRID, priority, &["192.0.2.100/32"]).auth_pass(PASS)
}

fn has(host: &Host, vip: &str) -> bool {
    host.has_address(vip)
        .unwrap_or_else(|e| panic!("addresses of {}: {e:#}", host.name()))
}

/// Waits until `host` holds `vip` (or, with `present == false`, does not).
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

/// Starts `x` on a (priority 150) and `y` on b (100) together and waits until a holds the VIP
/// and b does not.
fn elect(lab: &Lab, x: Daemon, y: Daemon) -> (Keepalived, Keepalived) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let ka = x.start(OURS, a, &instance(150).render("a"));
    // b starts once a runs its instance: a's Master_Down_Interval (3.41 s) is then shorter
    // than b's (3.61 s) counted from a later start, whatever either daemon's start-up time
    // on a loaded machine (2.2.7 reads its file slower than ours).
    assert!(
        ka.wait_for_log("(VI_1) Entering BACKUP STATE", ELECTION),
        "a did not start its instance"
    );
    let kb = y.start(OURS, b, &instance(100).render("b"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    wait_vip(b, &kb, VIP, false, Duration::from_secs(3));
    assert!(ka.wait_for_log("(VI_1) Entering MASTER STATE", Duration::from_secs(2)));
    assert!(kb.wait_for_log("(VI_1) Entering BACKUP STATE", Duration::from_secs(2)));
    (ka, kb)
}

/// Stops the capture and decodes it; checks that tshark decoded every IP protocol 112 packet
/// as VRRP (so none of ours is malformed in its eyes).
fn wire(capture: &mut Capture) -> Vec<Frame> {
    let frames = capture.frames().expect("tshark decodes the capture");
    let raw = read_pcap(capture.path()).expect("the capture file");
    let vrrp = raw.iter().filter(|p| p.vrrp_payload().is_some()).count();
    assert_eq!(
        vrrp,
        adverts(&frames).len(),
        "tshark did not decode every VRRP packet as VRRP: {frames:#?}"
    );
    frames
}

/// What every advert of one instance must look like.
struct Expect<'a> {
    vrid: u8,
    vips: &'a [&'a str],
    pass: Option<&'a str>,
}

const SINGLE: Expect<'static> = Expect {
    vrid: VRID,
    vips: &[VIP],
    pass: Some(PASS),
};

/// The adverts `host` sent for `want.vrid`, each checked against `want` and against what
/// keepalived sends (TTL 255, TOS 0xc0, to 224.0.0.18, version 2, good checksum, from the
/// host's MAC).
fn adverts_from<'f>(frames: &'f [Frame], host: &Host, want: &Expect<'_>) -> Vec<&'f Advert> {
    let mac = host.mac("eth0").expect("mac");
    let vips: Vec<Ipv4Addr> = want.vips.iter().map(|v| ip(v)).collect();
    let from: Vec<&Advert> = adverts(frames)
        .into_iter()
        .filter(|x| x.src == host.address() && x.vrid == want.vrid)
        .collect();
    for x in &from {
        assert!(x.checksum_good, "bad checksum: {x:?}");
        assert_eq!((x.ttl, x.tos), (255, 0xc0), "{x:?}");
        assert_eq!(x.dst, ip("224.0.0.18"), "{x:?}");
        assert_eq!((x.version, x.kind), (2, 1), "{x:?}");
        assert_eq!(x.adver_int, Duration::from_secs(1), "{x:?}");
        assert_eq!(x.src_mac, mac, "{x:?}");
        assert_eq!(x.addresses, vips, "{x:?}");
        assert_eq!(usize::from(x.addr_count), vips.len(), "{x:?}");
        match want.pass {
            Some(p) => assert_eq!(
                (x.auth_type, x.auth_string.as_deref()),
                (Some(1), Some(p)),
                "{x:?}"
            ),
            None => assert_eq!(x.auth_type, Some(0), "{x:?}"),
        }
    }
    from
}

/// Asserts GARPs for `vip` from `host`'s MAC (broadcast, sender = target = VIP) after `after`,
/// and no broadcast announcement from anyone else between `after` and `before`.
///
/// A unicast ARP reply to `host` is not counted: when `host` preempts, the old master's kernel
/// answers `host`'s own gratuitous request if the advert that makes it drop the VIP has not yet
/// been acted on (seen with 2.2.7 as the old master), which announces nothing to the LAN.
fn assert_garps(frames: &[Frame], host: &Host, vip: &str, after: f64, before: f64) {
    assert_some_garps(frames, host, vip, after);
    let mac = host.mac("eth0").expect("mac");
    let others: Vec<_> = garps(frames)
        .into_iter()
        .filter(|g| g.sender_ip == ip(vip) && g.time > after && g.time < before)
        .filter(|g| g.sender_mac != mac)
        .filter(|g| !(g.opcode == 2 && g.eth_dst == mac))
        .collect();
    assert!(
        others.is_empty(),
        "gratuitous ARPs for {vip} from another MAC than {}'s: {others:#?}",
        host.name()
    );
}

/// Asserts GARPs for `vip` from `host`'s MAC (broadcast, sender = target = VIP) after `after`.
fn assert_some_garps(frames: &[Frame], host: &Host, vip: &str, after: f64) {
    let mac = host.mac("eth0").expect("mac");
    let vip = ip(vip);
    let found: Vec<_> = garps(frames)
        .into_iter()
        .filter(|g| g.sender_ip == vip && g.time > after)
        .collect();
    assert!(
        found
            .iter()
            .any(|g| g.sender_mac == mac && g.eth_src == mac && g.eth_dst == "ff:ff:ff:ff:ff:ff"),
        "no gratuitous ARP for {vip} from {} ({mac}) after {after:.3}: {:#?}",
        host.name(),
        garps(frames)
    );
}

/// Our daemon must still run and must not have complained (dropped adverts, failed netlink or
/// socket calls); keepalived 2.2.7 is not held to this.
fn assert_clean(which: Daemon, k: &mut Keepalived) {
    if which != Ours {
        return;
    }
    assert!(k.is_running(), "our daemon exited:\n{}", daemon_log(k));
    let text = daemon_log(k);
    for bad in ["dropped an advert", "cannot ", "panicked", "error"] {
        assert!(!text.contains(bad), "our daemon logged `{bad}`:\n{text}");
    }
}

// ---- scenarios --------------------------------------------------------------------------

/// Both start together; the higher priority ends up master, the other backup, and only the
/// master advertises.
fn election(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut capture = lab.capture_bridge().expect("capture");
    let started = now();
    let (mut ka, mut kb) = elect(lab, x, y);
    let steady = now() + 0.5;
    thread::sleep(Duration::from_millis(2500));
    assert!(has(a, VIP) && !has(b, VIP), "the VIP moved in steady state");
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
    let frames = wire(&mut capture);
    let from_a = adverts_from(&frames, a, &SINGLE);
    let from_b = adverts_from(&frames, b, &SINGLE);
    assert!(from_a.iter().all(|x| x.priority == 150), "{from_a:#?}");
    assert!(from_b.iter().all(|x| x.priority == 100), "{from_b:#?}");
    let a_steady = from_a.iter().filter(|x| x.time > steady).count();
    assert!(
        (2..=4).contains(&a_steady),
        "{a_steady} adverts from a in 2 s"
    );
    assert!(
        from_b.iter().all(|x| x.time < steady),
        "b advertised as a backup: {from_b:#?}"
    );
    assert_garps(&frames, a, VIP, started, f64::MAX);
}

/// Two masters with the same priority (each started cut off from the other) meet: the one with
/// the lower primary address (a) steps down, b keeps the VIP.
fn equal_priority(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    lab.isolate("a", true).expect("isolate a");
    lab.isolate("b", true).expect("isolate b");
    let mut ka = x.start(OURS, a, &instance(120).render("a"));
    let mut kb = y.start(OURS, b, &instance(120).render("b"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    wait_vip(b, &kb, VIP, true, ELECTION);
    let mut capture = lab.capture_bridge().expect("capture");
    let joined = now();
    lab.isolate("a", false).expect("reconnect a");
    lab.isolate("b", false).expect("reconnect b");
    wait_vip(a, &ka, VIP, false, Duration::from_secs(3));
    thread::sleep(Duration::from_millis(2500));
    assert!(has(b, VIP) && !has(a, VIP), "the VIP is not on b alone");
    let a_log = daemon_log(&ka);
    let master = a_log
        .find("(VI_1) Entering MASTER STATE")
        .expect("a was master");
    assert!(
        a_log[master..].contains("(VI_1) Entering BACKUP STATE"),
        "a did not log its step down:\n{a_log}"
    );
    assert_eq!(
        log_count(&kb, "(VI_1) Entering MASTER STATE"),
        1,
        "b left MASTER:\n{}",
        daemon_log(&kb)
    );
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
    let frames = wire(&mut capture);
    let from_a = adverts_from(&frames, a, &SINGLE);
    let from_b = adverts_from(&frames, b, &SINGLE);
    assert!(
        from_a.iter().chain(&from_b).all(|x| x.priority == 120),
        "{frames:#?}"
    );
    assert!(
        from_a.iter().all(|x| x.time < joined + 1.5),
        "a kept advertising after the two met: {from_a:#?}"
    );
    let late_b = from_b.iter().filter(|x| x.time > joined + 1.5).count();
    assert!(late_b >= 2, "b stopped advertising: {from_b:#?}");
}

/// SIGTERM on the master: its last advert has priority 0, it drops the VIP, and the backup
/// takes over one Skew_Time later (0.61 s), announcing the VIP with GARPs.
fn graceful_stop(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut capture = lab.capture_bridge().expect("capture");
    let (mut ka, mut kb) = elect(lab, x, y);
    thread::sleep(Duration::from_millis(1500));
    let status = ka.stop().expect("SIGTERM stops a");
    assert!(
        status.success(),
        "a exited with {status}:\n{}",
        daemon_log(&ka)
    );
    assert!(!has(a, VIP), "a kept the VIP after stopping");
    assert!(
        daemon_log(&ka).contains("(VI_1) sent 0 priority"),
        "{}",
        daemon_log(&ka)
    );
    wait_vip(b, &kb, VIP, true, Duration::from_secs(3));
    thread::sleep(Duration::from_millis(1500));
    assert_clean(y, &mut kb);
    let frames = wire(&mut capture);
    let from_a = adverts_from(&frames, a, &SINGLE);
    let (last, before) = from_a.split_last().expect("adverts from a");
    assert_eq!(last.priority, 0, "a's last advert: {last:?}");
    assert!(
        before.len() >= 2 && before.iter().all(|x| x.priority == 150),
        "{before:#?}"
    );
    let from_b = adverts_from(&frames, b, &SINGLE);
    let first_b = from_b
        .iter()
        .find(|x| x.time > last.time)
        .expect("an advert from b after a's priority 0");
    assert_eq!(first_b.priority, 100);
    let gap = first_b.time - last.time;
    assert!(
        (0.45..1.2).contains(&gap),
        "b took over {gap:.3} s after priority 0, expected Skew_Time 0.61 s"
    );
    assert!(
        from_b.iter().filter(|x| x.time > last.time).count() >= 2,
        "{from_b:#?}"
    );
    assert_garps(&frames, b, VIP, last.time, f64::MAX);
}

/// SIGKILL on the master: no priority 0; the backup takes over after Master_Down_Interval
/// (3.61 s after a's last advert). The killed daemon could not remove the VIP.
fn sigkill(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut capture = lab.capture_bridge().expect("capture");
    let (mut ka, mut kb) = elect(lab, x, y);
    thread::sleep(Duration::from_millis(1200));
    ka.kill().expect("SIGKILL a");
    wait_vip(b, &kb, VIP, true, Duration::from_secs(6));
    assert!(has(a, VIP), "a lost the VIP without running");
    thread::sleep(Duration::from_millis(1200));
    assert_clean(y, &mut kb);
    let frames = wire(&mut capture);
    let from_a = adverts_from(&frames, a, &SINGLE);
    let last = from_a.last().expect("adverts from a");
    assert_eq!(last.priority, 150, "a sent priority {}", last.priority);
    let from_b = adverts_from(&frames, b, &SINGLE);
    let first_b = from_b
        .iter()
        .find(|x| x.time > last.time)
        .expect("an advert from b after a died");
    let gap = first_b.time - last.time;
    assert!(
        (3.4..4.2).contains(&gap),
        "b took over {gap:.3} s after a's last advert, expected 3.61 s"
    );
    assert_eq!(first_b.priority, 100);
    assert_garps(&frames, b, VIP, last.time, f64::MAX);
}

/// b (100) is master alone; a (150) starts and preempts it once its Master_Down_Timer fires
/// (it ignores lower-priority adverts); b steps down on a's first advert.
fn preemption(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut capture = lab.capture_bridge().expect("capture");
    let mut kb = y.start(OURS, b, &instance(100).render("b"));
    wait_vip(b, &kb, VIP, true, ELECTION);
    let a_started = now();
    let mut ka = x.start(OURS, a, &instance(150).render("a"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    wait_vip(b, &kb, VIP, false, Duration::from_secs(2));
    thread::sleep(Duration::from_millis(1500));
    assert!(has(a, VIP) && !has(b, VIP));
    assert!(
        log_count(&kb, "(VI_1) Entering BACKUP STATE") >= 2,
        "b did not return to BACKUP:\n{}",
        daemon_log(&kb)
    );
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
    let frames = wire(&mut capture);
    let from_a = adverts_from(&frames, a, &SINGLE);
    let from_b = adverts_from(&frames, b, &SINGLE);
    let first_a = from_a.first().expect("adverts from a");
    assert_eq!(first_a.priority, 150);
    let waited = first_a.time - a_started;
    assert!(
        (3.0..5.0).contains(&waited),
        "a preempted {waited:.3} s after it started; expected its Master_Down_Interval, 3.41 s"
    );
    assert!(
        from_b.iter().any(|x| x.time < first_a.time),
        "b did not advertise before a"
    );
    assert!(
        from_b.iter().all(|x| x.time < first_a.time + 0.2),
        "b kept advertising after a preempted: {from_b:#?}"
    );
    assert_garps(&frames, a, VIP, first_a.time - 0.1, f64::MAX);
    // While it waits, a ignores b's lower adverts and says so for each, as 2.2.7 does:
    // `(VI_1) received lower priority (100) advert from 192.0.2.11 - discarding`.
    let discarded = log_count(
        &ka,
        &format!(
            "(VI_1) received lower priority (100) advert from {} - discarding",
            b.address()
        ),
    );
    let heard = from_b
        .iter()
        .filter(|x| x.time > a_started && x.time < first_a.time)
        .count();
    assert!(
        discarded >= 2 && discarded <= heard,
        "a logged {discarded} discarded adverts, b sent {heard} while a waited:\n{}",
        daemon_log(&ka)
    );
}

/// b (100) is master alone; a (150, nopreempt) starts and stays backup; only when b stops does
/// a take over.
fn nopreempt(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut capture = lab.capture_bridge().expect("capture");
    let mut kb = y.start(OURS, b, &instance(100).render("b"));
    wait_vip(b, &kb, VIP, true, ELECTION);
    let mut ka = x.start(OURS, a, &instance(150).nopreempt().render("a"));
    // Longer than a's Master_Down_Interval (3.41 s).
    thread::sleep(Duration::from_millis(5000));
    assert!(has(b, VIP) && !has(a, VIP), "a preempted despite nopreempt");
    assert!(daemon_log(&ka).contains("(VI_1) Entering BACKUP STATE"));
    assert!(
        !daemon_log(&ka).contains("Entering MASTER STATE"),
        "a became master:\n{}",
        daemon_log(&ka)
    );
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
    let stopped = now();
    kb.stop().expect("SIGTERM stops b");
    wait_vip(a, &ka, VIP, true, Duration::from_secs(3));
    assert!(!has(b, VIP));
    thread::sleep(Duration::from_millis(500));
    let frames = wire(&mut capture);
    let from_a = adverts_from(&frames, a, &SINGLE);
    let from_b = adverts_from(&frames, b, &SINGLE);
    assert!(
        from_a.iter().all(|x| x.time > stopped && x.priority == 150),
        "a advertised before b stopped: {from_a:#?}"
    );
    assert!(!from_a.is_empty(), "a never advertised");
    assert_eq!(from_b.last().map(|x| x.priority), Some(0), "{from_b:#?}");
    assert_garps(&frames, a, VIP, stopped, f64::MAX);
}

/// Different passwords: each drops the other's adverts, so both become MASTER and both hold
/// the VIP. Our daemon counts every advert it dropped.
fn mismatched_passwords(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut capture = lab.capture_bridge().expect("capture");
    let started = now();
    let mut ka = x.start(OURS, a, &instance(150).auth_pass("secretaa").render("a"));
    let mut kb = y.start(OURS, b, &instance(100).auth_pass("secretbb").render("b"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    wait_vip(b, &kb, VIP, true, ELECTION);
    thread::sleep(Duration::from_millis(2500));
    assert!(has(a, VIP) && has(b, VIP), "one of the two masters gave up");
    for (which, k, peer) in [(x, &mut ka, b), (y, &mut kb, a)] {
        if which != Ours {
            continue;
        }
        assert!(k.is_running());
        let line = format!("dropped an advert from {}: invalid passwd", peer.address());
        assert_eq!(log_count(k, &line), 1, "{}", daemon_log(k));
        assert_eq!(log_count(k, "dropped an advert"), 1, "{}", daemon_log(k));
    }
    // Stop our daemons to read their counters: every advert of the peer was dropped, and
    // counted.
    let stopping = now();
    let mut stops = Vec::new();
    for (which, k, peer, me) in [(x, &mut ka, b, a), (y, &mut kb, a, b)] {
        if which == Ours {
            k.stop().expect("SIGTERM");
            stops.push((daemon_log(k), peer, me));
        }
    }
    thread::sleep(Duration::from_millis(300));
    let frames = wire(&mut capture);
    let want_a = Expect {
        pass: Some("secretaa"),
        ..SINGLE
    };
    let want_b = Expect {
        pass: Some("secretbb"),
        ..SINGLE
    };
    let from_a = adverts_from(&frames, a, &want_a);
    let from_b = adverts_from(&frames, b, &want_b);
    // Both advertise as masters; ours once a second. (keepalived 2.2.7 as master puts its next
    // advert off by a whole interval whenever it receives one with a bad password: against a
    // peer that advertises every second it sends its first advert and then no more.)
    for (from, name, which) in [(&from_a, "a", x), (&from_b, "b", y)] {
        let late = from
            .iter()
            .filter(|x| x.time > stopping - 1.3 && x.time < stopping)
            .count();
        let enough = match which {
            Ours => from.len() >= 3 && late >= 1,
            Real => !from.is_empty(),
        };
        assert!(enough, "{name} stopped advertising: {from:#?}");
    }
    assert_some_garps(&frames, a, VIP, started);
    assert_some_garps(&frames, b, VIP, started);
    for (text, peer, me) in stops {
        let mine = adverts_from(
            &frames,
            me,
            if me.name() == "a" { &want_a } else { &want_b },
        );
        let my_stop = mine
            .iter()
            .find(|x| x.priority == 0)
            .map_or(f64::MAX, |x| x.time);
        let theirs = if peer.name() == "a" { &from_a } else { &from_b };
        let sent = theirs.iter().filter(|x| x.time < my_stop).count();
        let counted = text
            .lines()
            .find_map(|l| l.split("dropped adverts: invalid passwd ").nth(1))
            .and_then(|n| n.split(',').next())
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no `dropped adverts: invalid passwd N` line:\n{text}"));
        assert!(
            counted.abs_diff(sent) <= 1,
            "{} counted {counted} bad passwords, {} sent {sent} adverts",
            me.name(),
            peer.name()
        );
    }
}

/// a advertises two VIPs (192.0.2.100 and .101), b one (.100): keepalived 2.2.7 drops an
/// advert whose address count or list differs from its own (RFC 3768 section 7.1), as master
/// and as backup, so both end up master and each logs `(VI_1) received an unexpected ip
/// number count N, expected M!` for the other's adverts. Ours must elect the same way, with
/// the same line.
fn address_lists(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let two = VrrpInstance::new(VRID, 150, &["192.0.2.100/32", "192.0.2.101/32"]).auth_pass(PASS);
    let mut ka = x.start(OURS, a, &two.render("a"));
    assert!(
        ka.wait_for_log("(VI_1) Entering BACKUP STATE", ELECTION),
        "a did not start its instance"
    );
    let mut kb = y.start(OURS, b, &instance(100).render("b"));
    wait_vip(a, &ka, "192.0.2.101", true, ELECTION);
    wait_vip(b, &kb, VIP, true, ELECTION);
    // Both keep their VIPs: neither accepts the other's adverts.
    thread::sleep(Duration::from_millis(2500));
    assert!(
        has(a, VIP) && has(a, "192.0.2.101") && has(b, VIP),
        "one of the two masters gave up:\na: {}\nb: {}",
        daemon_log(&ka),
        daemon_log(&kb)
    );
    // Each heard the other's adverts at least once (keepalived 2.2.7 as master puts its own
    // next advert off at each advert it drops, so a 2.2.7 master that hears the other every
    // second falls silent after its first; ours keeps advertising).
    let (of_a, of_b) = (
        "(VI_1) received an unexpected ip number count 1, expected 2!",
        "(VI_1) received an unexpected ip number count 2, expected 1!",
    );
    assert!(log_count(&ka, of_a) >= 1, "a:\n{}", daemon_log(&ka));
    assert!(log_count(&kb, of_b) >= 1, "b:\n{}", daemon_log(&kb));
    for (k, which) in [(&mut ka, x), (&mut kb, y)] {
        if which == Ours {
            assert!(k.is_running(), "{}", daemon_log(k));
        }
        k.stop().expect("SIGTERM");
    }
}

/// a has priority 255 (and no `state`) for addresses that are not its own, b 100: keepalived
/// 2.2.7 takes priority 255 alone as the address owner and starts it as master at once, logging a
/// Master_Down_Timer that fires at once (`(VI_1) Receive advertisement timeout`, then
/// `Entering MASTER STATE`, no BACKUP state first). Its announcements read, with `-D`, as
/// 2.2.7's with the default settings: `(VI_1) Sending/queueing gratuitous ARPs on eth0 for X`
/// (ours: the contract's `Sending gratuitous ARPs`) before each address's first send of the burst, and `Sending gratuitous ARP on eth0 for X`
/// for each of the five sends, address after address.
fn owner_start(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let vips = ["192.0.2.100/32", "192.0.2.101/32"];
    let mut kb = y.start(
        OURS,
        b,
        &VrrpInstance::new(VRID, 100, &vips)
            .auth_pass(PASS)
            .render("b"),
    );
    wait_vip(b, &kb, VIP, true, ELECTION);
    // No `state` line: a written `state BACKUP` would hold even the owner in BACKUP for
    // Master_Down_Interval (2.2.7 does; the engine's unit tests cover it).
    let owner = VrrpInstance::new(VRID, 255, &vips)
        .auth_pass(PASS)
        .render("a")
        .replace("    state BACKUP\n", "");
    assert!(!owner.contains("state "), "{owner}");
    let mut ka = x.start(OURS, a, &owner);
    // At once: well within b's or a's Master_Down_Interval (3 s and more).
    wait_vip(a, &ka, VIP, true, Duration::from_millis(2500));
    wait_vip(b, &kb, VIP, false, Duration::from_secs(2));
    // The burst's ten sends are logged within moments of the VIP (bounded wait).
    keepalived_testlab::prelude::poll_until(Duration::from_secs(3), || {
        log_count(&ka, "Sending gratuitous ARP on eth0") >= 10
    });
    let text = daemon_log(&ka);
    let states = keepalived_testlab::prelude::state_changes(&text);
    assert_eq!(
        states,
        vec!["(VI_1) Entering MASTER STATE".to_string()],
        "a went through another state first:\n{text}"
    );
    let timeout = text.find("(VI_1) Receive advertisement timeout");
    let master = text.find("(VI_1) Entering MASTER STATE");
    assert!(
        timeout.is_some() && timeout < master,
        "no `Receive advertisement timeout` before MASTER:\n{text}"
    );
    // The first burst, in 2.2.7's order.
    let garps: Vec<String> = text
        .lines()
        .filter(|l| l.contains("gratuitous ARP"))
        .filter_map(|l| {
            l.find("Sending")
                .map(|at| l[at..].replace("Sending/queueing", "Sending"))
        })
        .collect();
    let first = [
        "Sending gratuitous ARPs on eth0 for 192.0.2.100",
        "Sending gratuitous ARP on eth0 for 192.0.2.100",
        "Sending gratuitous ARPs on eth0 for 192.0.2.101",
        "Sending gratuitous ARP on eth0 for 192.0.2.101",
        "Sending gratuitous ARP on eth0 for 192.0.2.100",
    ];
    assert!(
        garps.len() >= 10 && garps[..5] == first,
        "a's announcement lines:\n{}",
        garps.join("\n")
    );
    let sends = |vip: &str| {
        garps[..12.min(garps.len())]
            .iter()
            .filter(|l| **l == format!("Sending gratuitous ARP on eth0 for {vip}"))
            .count()
    };
    assert_eq!(
        (sends("192.0.2.100"), sends("192.0.2.101")),
        (5, 5),
        "five sends per address in the first burst:\n{}",
        garps.join("\n")
    );
    for (k, which) in [(&mut ka, x), (&mut kb, y)] {
        if which == Ours {
            assert!(k.is_running(), "{}", daemon_log(k));
        }
        k.stop().expect("SIGTERM");
    }
}

/// Three instances on one interface: a is master of VRIDs 51 and 53, b of 52. Each VRID's
/// adverts come only from its master, and each VIP sits on its master.
fn three_vrids(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    // Priorities far apart (Master_Down_Intervals 3.02 s and 3.80 s): both daemons start
    // together, and on a loaded machine start-up jitter beyond the 0.2 s that separates 150
    // from 100 let the wrong side win an election for a moment.
    let vrids = [(51, "192.0.2.101", 250, 50), (52, "192.0.2.102", 50, 250)];
    let vrids = [vrids[0], vrids[1], (53, "192.0.2.103", 250, 50)];
    let conf = |pick: fn(&(u8, &str, u8, u8)) -> u8, id: &str| {
        let list: Vec<VrrpInstance> = vrids
            .iter()
            .enumerate()
            .map(|(i, v)| {
                VrrpInstance::new(v.0, pick(v), &[&format!("{}/32", v.1)])
                    .named(&format!("VI_{}", i + 1))
                    .auth_pass(PASS)
            })
            .collect();
        render_config(id, &list)
    };
    let mut capture = lab.capture_bridge().expect("capture");
    let started = now();
    let mut ka = x.start(OURS, a, &conf(|v| v.2, "a"));
    let mut kb = y.start(OURS, b, &conf(|v| v.3, "b"));
    for &(_, vip, pa, pb) in &vrids {
        let (master, km) = if pa > pb { (a, &ka) } else { (b, &kb) };
        wait_vip(master, km, vip, true, ELECTION);
    }
    let steady = now();
    thread::sleep(Duration::from_millis(2500));
    for &(vrid, vip, pa, pb) in &vrids {
        let (master, backup) = if pa > pb { (a, b) } else { (b, a) };
        assert!(
            has(master, vip) && !has(backup, vip),
            "VRID {vrid}: {vip} is not on {} alone",
            master.name()
        );
    }
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
    let frames = wire(&mut capture);
    for &(vrid, vip, pa, pb) in &vrids {
        let want = Expect {
            vrid,
            vips: &[vip],
            pass: Some(PASS),
        };
        let (master, backup, prio) = if pa > pb { (a, b, pa) } else { (b, a, pb) };
        let m = adverts_from(&frames, master, &want);
        let late = m.iter().filter(|x| x.time > steady).count();
        assert!(
            late >= 2,
            "VRID {vrid}: too few adverts from its master: {m:#?}"
        );
        assert!(m.iter().all(|x| x.priority == prio), "{m:#?}");
        let stray: Vec<_> = adverts_from(&frames, backup, &want)
            .into_iter()
            .filter(|x| x.time > steady)
            .collect();
        assert!(
            stray.is_empty(),
            "VRID {vrid}: adverts from the backup: {stray:#?}"
        );
        assert_garps(&frames, master, vip, started, f64::MAX);
    }
}

/// VIPs with options: `brd`, `dev` (another interface), `label` and `scope`. They
/// appear with those attributes on the master, all in its adverts, then move to b with the same
/// attributes when a stops, and are gone from a.
fn vip_options(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    // A second interface for `dev`: a veth pair inside the host (no dummy module needed).
    for h in [a, b] {
        for args in [
            &[
                "link", "add", "vip0", "type", "veth", "peer", "name", "vip0p",
            ][..],
            &["link", "set", "vip0p", "up"],
            &["link", "set", "vip0", "up"],
        ] {
            let out = h.run("ip", args).expect("ip");
            assert!(
                out.status.success(),
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let vips = [
        "192.0.2.100/32",
        "203.0.113.120/24 brd 203.0.113.127 dev eth0 label eth0:vip scope link",
        "198.51.100.50/32 dev vip0 label vip0:kl scope host",
    ];
    let conf = |p: u8, id: &str| VrrpInstance::new(VRID, p, &vips).auth_pass(PASS).render(id);
    let mut capture = lab.capture_bridge().expect("capture");
    let started = now();
    // a first, master alone, then b joins (started together, start-up jitter on a loaded
    // machine could let b's timer fire first).
    let mut ka = x.start(OURS, a, &conf(150, "a"));
    wait_vip(a, &ka, "198.51.100.50", true, ELECTION);
    let mut kb = y.start(OURS, b, &conf(100, "b"));
    assert!(
        kb.wait_for_log("(VI_1) Entering BACKUP STATE", Duration::from_secs(5)),
        "b did not start:\n{}",
        daemon_log(&kb)
    );
    let check = |host: &Host| {
        let info = |addr: &str| {
            host.find_address(ip(addr))
                .expect("addresses")
                .unwrap_or_else(|| panic!("{addr} is not on {}", host.name()))
        };
        let plain = info("192.0.2.100");
        assert_eq!(
            (
                plain.ifname.as_str(),
                plain.prefix_len,
                plain.scope.as_str()
            ),
            ("eth0", 32, "global"),
            "{plain:?}"
        );
        let labelled = info("203.0.113.120");
        assert_eq!(
            (
                labelled.ifname.as_str(),
                labelled.prefix_len,
                labelled.scope.as_str(),
                labelled.label.as_deref(),
                labelled.broadcast
            ),
            (
                "eth0",
                24,
                "link",
                Some("eth0:vip"),
                Some(ip("203.0.113.127"))
            ),
            "{labelled:?}"
        );
        let other = info("198.51.100.50");
        assert_eq!(
            (
                other.ifname.as_str(),
                other.prefix_len,
                other.scope.as_str(),
                other.label.as_deref()
            ),
            ("vip0", 32, "host", Some("vip0:kl")),
            "{other:?}"
        );
    };
    check(a);
    for v in ["192.0.2.100", "203.0.113.120", "198.51.100.50"] {
        assert!(!has(b, v), "{v} on the backup");
    }
    thread::sleep(Duration::from_millis(1000));
    assert_clean(x, &mut ka);
    let stopped = now();
    ka.stop().expect("SIGTERM stops a");
    wait_vip(b, &kb, "198.51.100.50", true, Duration::from_secs(3));
    wait_vip(b, &kb, "203.0.113.120", true, Duration::from_secs(1));
    check(b);
    for v in ["192.0.2.100", "203.0.113.120", "198.51.100.50"] {
        assert!(!has(a, v), "{v} left on a after it stopped");
    }
    thread::sleep(Duration::from_millis(500));
    assert_clean(y, &mut kb);
    let frames = wire(&mut capture);
    let want = Expect {
        vrid: VRID,
        vips: &["192.0.2.100", "203.0.113.120", "198.51.100.50"],
        pass: Some(PASS),
    };
    assert!(!adverts_from(&frames, a, &want).is_empty());
    assert!(!adverts_from(&frames, b, &want).is_empty());
    assert_garps(&frames, a, "192.0.2.100", started, stopped);
    assert_garps(&frames, a, "203.0.113.120", started, stopped);
    assert_garps(&frames, b, "203.0.113.120", stopped, f64::MAX);
    // 198.51.100.50 lives on vip0: keepalived sends its GARPs there, never on eth0.
    let stray: Vec<_> = garps(&frames)
        .into_iter()
        .filter(|g| g.sender_ip == ip("198.51.100.50"))
        .collect();
    assert!(
        stray.is_empty(),
        "gratuitous ARPs on eth0 for an address on vip0: {stray:#?}"
    );
}

// ---- tests --------------------------------------------------------------------------------

/// The master's interface goes down: it enters FAULT and gives up the VIP, the backup takes
/// over after Master_Down_Interval; when the link comes back the old master returns through
/// BACKUP and preempts again (compat.md section 6: a down interface means FAULT).
fn link_down(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let (mut ka, mut kb) = elect(lab, x, y);
    a.set_link("eth0", false).expect("eth0 down on a");
    assert!(
        ka.wait_for_log("(VI_1) Entering FAULT STATE", Duration::from_secs(3)),
        "a did not enter FAULT:\n{}",
        daemon_log(&ka)
    );
    wait_vip(a, &ka, VIP, false, Duration::from_secs(3));
    wait_vip(b, &kb, VIP, true, Duration::from_secs(6));
    a.set_link("eth0", true).expect("eth0 up on a");
    wait_vip(a, &ka, VIP, true, Duration::from_secs(10));
    wait_vip(b, &kb, VIP, false, Duration::from_secs(3));
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
}

/// With `dont_track_primary`, a's own link going down is no FAULT: a stays MASTER with the
/// VIP (b, hearing nothing, becomes MASTER too), and when the link comes back a announces
/// the VIP again and b, hearing the higher priority, gives it up (2.2.7, observed).
fn link_down_not_tracked(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let ka_conf = instance(150).extra("dont_track_primary").render("a");
    let mut ka = x.start(OURS, a, &ka_conf);
    assert!(
        ka.wait_for_log("(VI_1) Entering BACKUP STATE", ELECTION),
        "a did not start its instance"
    );
    let mut kb = y.start(OURS, b, &instance(100).render("b"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    let burst = "gratuitous ARPs on eth0 for 192.0.2.100";
    let bursts = log_count(&ka, burst);
    a.set_link("eth0", false).expect("eth0 down on a");
    wait_vip(b, &kb, VIP, true, Duration::from_secs(6));
    assert!(has(a, VIP), "a gave up the VIP with its link down");
    a.set_link("eth0", true).expect("eth0 up on a");
    wait_vip(b, &kb, VIP, false, Duration::from_secs(6));
    assert!(has(a, VIP), "a lost the VIP when its link came back");
    assert!(
        log_count(&ka, burst) > bursts,
        "a did not announce the VIP again:\n{}",
        daemon_log(&ka)
    );
    assert_eq!(
        log_count(&ka, "Entering FAULT STATE"),
        0,
        "a entered FAULT:\n{}",
        daemon_log(&ka)
    );
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
}

/// A flag file whose presence the check script `chk` tests, and a's config (priority 150)
/// tracking `chk` with `weight` (empty: the default, 0).
fn checked_config(a: &Host, weight: &str) -> (std::path::PathBuf, String) {
    let up_flag = a.dir().join("service-up");
    let script = a.dir().join("check.sh");
    std::fs::write(&up_flag, "").expect("flag file");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntest -f {}\n", up_flag.display()),
    )
    .expect("script");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    // The vrrp_script comes before the instance that tracks it: keepalived 2.2.7 resolves a
    // track_script where it reads it (`track script chk not found, ignoring...` otherwise).
    let conf = format!(
        "global_defs {{\n    script_user root\n    enable_script_security\n}}\n\
         vrrp_script chk {{\n    script \"{}\"\n    interval 1\n}}\n",
        script.display()
    ) + &instance(150)
        .extra(&format!("track_script {{\n        chk {weight}\n    }}"))
        .render("a");
    (up_flag, conf)
}

/// A failing check with `weight -60` lowers a's priority from 150 to 90 on the wire, so b
/// (100) takes over; it goes back to 150 when the check passes, and a preempts again.
fn weighted_check(lab: &Lab, x: Daemon, y: Daemon) {
    if matches!(x, Real) {
        return;
    }
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut capture = lab.capture_bridge().expect("capture");
    let (up_flag, conf) = checked_config(a, "weight -60");
    let mut ka = x.start(OURS, a, &conf);
    let mut kb = y.start(OURS, b, &instance(100).render("b"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    std::fs::remove_file(&up_flag).expect("service down");
    wait_vip(b, &kb, VIP, true, Duration::from_secs(6));
    assert!(
        ka.wait_for_log(
            "Changing effective priority from 150 to 90",
            Duration::from_secs(1)
        ),
        "{}",
        daemon_log(&ka)
    );
    std::fs::write(&up_flag, "").expect("service up");
    wait_vip(a, &ka, VIP, true, Duration::from_secs(8));
    // A few adverts at 150 on the wire (and flushed by the capture) before reading it.
    thread::sleep(Duration::from_millis(2500));
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
    let frames = wire(&mut capture);
    let priorities: Vec<u8> = adverts_from(&frames, a, &SINGLE)
        .iter()
        .map(|x| x.priority)
        .collect();
    assert!(
        priorities.contains(&90),
        "a never advertised 90: {priorities:?}"
    );
    assert_eq!(
        priorities.last(),
        Some(&150),
        "a back at 150: {priorities:?}"
    );
}

/// The seed's story: a's check script fails, a enters FAULT and gives the VIP to b within the
/// script interval plus b's Skew_Time; when the check passes again a comes back and preempts.
/// The script runs on a, so only pairs where a is ours apply.
fn check_script(lab: &Lab, x: Daemon, y: Daemon) {
    if matches!(x, Real) {
        return;
    }
    let (a, b) = (lab.host("a"), lab.host("b"));
    let (up_flag, conf) = checked_config(a, "");
    let mut ka = x.start(OURS, a, &conf);
    let mut kb = y.start(OURS, b, &instance(100).render("b"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    std::fs::remove_file(&up_flag).expect("service down");
    wait_vip(b, &kb, VIP, true, Duration::from_secs(5));
    wait_vip(a, &ka, VIP, false, Duration::from_secs(1));
    assert!(
        log_count(&ka, "VRRP_Script(chk) failed") == 1,
        "{}",
        daemon_log(&ka)
    );
    assert!(
        log_count(&ka, "(VI_1) Entering FAULT STATE") == 1,
        "{}",
        daemon_log(&ka)
    );
    std::fs::write(&up_flag, "").expect("service up");
    wait_vip(a, &ka, VIP, true, Duration::from_secs(8));
    wait_vip(b, &kb, VIP, false, Duration::from_secs(3));
    assert!(
        log_count(&ka, "VRRP_Script(chk) succeeded") >= 1,
        "{}",
        daemon_log(&ka)
    );
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
}

/// notify_backup, notify_master, notify_stop and the generic notify (with its four extra
/// arguments) run in the order of the transitions. They run on a, so only pairs where a is
/// ours apply.
fn notify_scripts(lab: &Lab, x: Daemon, y: Daemon) {
    if matches!(x, Real) {
        return;
    }
    let (a, b) = (lab.host("a"), lab.host("b"));
    let states = a.dir().join("states.log");
    let generic = a.dir().join("notify.log");
    let conf = instance(150)
        .extra(&format!(
            "notify_backup \"/bin/sh -c 'echo backup >> {0}'\"\n    \
             notify_master \"/bin/sh -c 'echo master >> {0}'\"\n    \
             notify_stop \"/bin/sh -c 'echo stop >> {0}'\"\n    \
             notify \"/bin/sh -c 'echo $* >> {1}' notify\"",
            states.display(),
            generic.display()
        ))
        .render("a")
        + "global_defs {\n    script_user root\n    enable_script_security\n}\n";
    let mut ka = x.start(OURS, a, &conf);
    let mut kb = y.start(OURS, b, &instance(100).render("b"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    thread::sleep(Duration::from_millis(500));
    let status = ka.stop().expect("SIGTERM a");
    assert!(
        status.success(),
        "a exited with {status}:\n{}",
        daemon_log(&ka)
    );
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert_eq!(
        read(&states),
        "backup\nmaster\nstop\n",
        "{}",
        daemon_log(&ka)
    );
    assert_eq!(
        read(&generic),
        "INSTANCE VI_1 BACKUP 150\nINSTANCE VI_1 MASTER 150\nINSTANCE VI_1 STOP 150\n",
        "{}",
        daemon_log(&ka)
    );
    wait_vip(b, &kb, VIP, true, Duration::from_secs(3));
    assert_clean(y, &mut kb);
}

/// a tracks a second interface (track_interface, weight 0): when it goes down a enters FAULT
/// and b takes over; when it comes back a returns and preempts. Only pairs where a is ours.
fn tracked_interface(lab: &Lab, x: Daemon, y: Daemon) {
    if matches!(x, Real) {
        return;
    }
    let (a, b) = (lab.host("a"), lab.host("b"));
    for args in [
        &[
            "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
        ][..],
        &["link", "set", "trk0", "up"],
        &["link", "set", "trk1", "up"],
    ] {
        let out = a.run("ip", args).expect("ip");
        assert!(out.status.success(), "ip {args:?}: {out:?}");
    }
    let conf = instance(150)
        .extra("track_interface {\n        trk0\n    }")
        .render("a");
    let mut ka = x.start(OURS, a, &conf);
    let mut kb = y.start(OURS, b, &instance(100).render("b"));
    wait_vip(a, &ka, VIP, true, ELECTION);
    a.set_link("trk0", false).expect("trk0 down");
    assert!(
        ka.wait_for_log("(VI_1) Entering FAULT STATE", Duration::from_secs(3)),
        "{}",
        daemon_log(&ka)
    );
    wait_vip(b, &kb, VIP, true, Duration::from_secs(3));
    a.set_link("trk0", true).expect("trk0 up");
    wait_vip(a, &ka, VIP, true, Duration::from_secs(8));
    assert!(
        log_count(&ka, "Netlink reports trk0 down") == 1,
        "{}",
        daemon_log(&ka)
    );
    assert_clean(x, &mut ka);
    assert_clean(y, &mut kb);
}

#[test]
fn election_by_priority() {
    for_each_pair("elect", election);
}

#[test]
fn equal_priority_decided_by_address() {
    for_each_pair("equal", equal_priority);
}

#[test]
fn graceful_stop_hands_over_with_priority_zero() {
    for_each_pair("stop", graceful_stop);
}

#[test]
fn sigkill_hands_over_after_master_down_interval() {
    for_each_pair("kill", sigkill);
}

#[test]
fn higher_priority_preempts() {
    for_each_pair("preempt", preemption);
}

#[test]
fn nopreempt_keeps_the_current_master() {
    for_each_pair("nopreempt", nopreempt);
}

#[test]
fn mismatched_passwords_make_two_masters() {
    for_each_pair("passwd", mismatched_passwords);
}

#[test]
fn other_address_lists_make_two_masters_as_keepalived() {
    for_each_pair("addrs", address_lists);
}

#[test]
fn priority_255_starts_as_master_at_once_as_keepalived() {
    for_each_pair("owner", owner_start);
}

#[test]
fn three_vrids_on_one_interface() {
    for_each_pair("vrids", three_vrids);
}

#[test]
fn vips_with_dev_label_and_scope() {
    for_each_pair("vipopts", vip_options);
}

#[test]
fn link_down_means_fault_and_hand_over() {
    for_each_pair("linkdown", link_down);
}

#[test]
fn dont_track_primary_keeps_master_through_its_link_going_down() {
    for_each_pair("dtp", link_down_not_tracked);
}

#[test]
fn failing_check_script_moves_the_vip() {
    for_each_pair("script", check_script);
}

#[test]
fn notify_scripts_run_in_order_with_their_arguments() {
    for_each_pair("notify", notify_scripts);
}

#[test]
fn check_script_weight_changes_the_priority_on_the_wire() {
    for_each_pair("weight", weighted_check);
}

#[test]
fn tracked_interface_down_means_fault() {
    for_each_pair("trackif", tracked_interface);
}
