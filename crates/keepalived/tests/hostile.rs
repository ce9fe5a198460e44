//! Hostile input (root only): a third host forges malformed adverts and sends them at two of our
//! daemons, a master and a backup, first one of each kind and then 1000 in one second.
//!
//! Every forged advert is valid except for one flaw, and carries priority 254 or 0: accepted by
//! mistake, 254 would make the master step down and 0 would make the backup take over. The
//! test asserts that neither daemon crashes or changes state (the VIP stays on the master, no new
//! state lines in the logs, the master keeps advertising once a second and no more), that each
//! packet is counted under its reason (the `dropped adverts:` line at stop), and that the log is
//! not flooded (one `dropped an advert` line per reason within the 10 s interval, one line for
//! the unknown VRID).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use keepalived_testlab::prelude::{counts_after, daemon_log, state_lines};
use keepalived_testlab::{
    ForgedAdvert, Injector, Keepalived, Lab, RawPacket, VrrpInstance, require_programs,
    require_root,
};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
const VRID: u8 = 51;
const UNKNOWN_VRID: u8 = 77;
const PASS: &str = "secret12";
const VIP: &str = "192.0.2.100";
/// Adverts in the flood, sent evenly over one second.
const FLOOD: usize = 1000;

/// One kind of forged advert: what is wrong with it and the reason our daemon logs for it
/// (`None`: a VRID no instance runs, which the daemon reports per interface).
struct Kind {
    name: &'static str,
    reason: Option<&'static str>,
    forge: fn(ForgedAdvert) -> ForgedAdvert,
}

const KINDS: [Kind; 10] = [
    Kind {
        name: "TTL 64",
        reason: Some("invalid TTL"),
        forge: |mut a| {
            a.ttl = 64;
            a
        },
    },
    Kind {
        name: "6 bytes long",
        reason: Some("packet too short"),
        forge: |mut a| {
            a.truncate = Some(6);
            a
        },
    },
    Kind {
        name: "version 3",
        reason: Some("invalid version"),
        forge: |a| ForgedAdvert::v3(a.src, a.vrid, a.priority, &a.addresses),
    },
    Kind {
        name: "type 2",
        reason: Some("invalid type"),
        forge: |mut a| {
            a.kind = 2;
            a
        },
    },
    Kind {
        name: "5 addresses counted, 1 sent",
        reason: Some("invalid packet length"),
        forge: |mut a| {
            a.addr_count = Some(5);
            a
        },
    },
    Kind {
        name: "bad checksum",
        reason: Some("Invalid VRRPv2 checksum"),
        forge: |mut a| {
            let good = a.payload();
            a.checksum = Some(u16::from_be_bytes([good[6], good[7]]) ^ 0x5a5a);
            a
        },
    },
    Kind {
        name: "no authentication",
        reason: Some("auth type mismatch"),
        forge: |mut a| {
            a.auth_type = 0;
            a.auth_data = [0; 8];
            a
        },
    },
    Kind {
        name: "wrong password",
        reason: Some("invalid passwd"),
        forge: |a| a.pass("guessed!"),
    },
    Kind {
        name: "advert_int 2",
        reason: Some("advertisement interval mismatch"),
        forge: |mut a| {
            a.interval = 2;
            a
        },
    },
    Kind {
        name: "unknown VRID",
        reason: None,
        forge: |mut a| {
            a.vrid = UNKNOWN_VRID;
            a
        },
    },
];

/// The `n`-th forged packet: kind `n % 10`, priority 254 for even rounds and 0 for odd ones.
fn forge(n: usize, src: Ipv4Addr) -> ForgedAdvert {
    let kind = &KINDS[n % KINDS.len()];
    let priority = if (n / KINDS.len()).is_multiple_of(2) {
        254
    } else {
        0
    };
    let vip: Ipv4Addr = VIP.parse().expect("VIP");
    (kind.forge)(ForgedAdvert::v2(src, VRID, priority, &[vip]).pass(PASS))
}

/// VRRP packets with IPv4 source `src` in the capture.
fn vrrp_from(packets: &[RawPacket], src: Ipv4Addr) -> Vec<&RawPacket> {
    packets
        .iter()
        .filter(|p| p.vrrp_payload().is_some())
        .filter(|p| p.ipv4().is_some_and(|ip| ip[12..16] == src.octets()))
        .collect()
}

#[test]
fn malformed_and_forged_adverts_are_dropped_counted_and_logged_once() {
    if !require_root() || !require_programs(&["ip", "kill", "dumpcap"]) {
        return;
    }
    let t0 = Instant::now();
    let lab = Lab::new("hostile", &["a", "b", "x"]).expect("lab");
    let (a, b, x) = (lab.host("a"), lab.host("b"), lab.host("x"));
    let conf = |priority: u8, id: &str| {
        VrrpInstance::new(VRID, priority, &["192.0.2.100/32"])
            .auth_pass(PASS)
            .render(id)
    };
    let mut capture = lab.capture_bridge().expect("capture");
    let mut ka = Keepalived::start_with(a, Path::new(OURS), &conf(150, "a"), &[]).expect("a");
    let mut kb = Keepalived::start_with(b, Path::new(OURS), &conf(100, "b"), &[]).expect("b");
    assert!(
        a.wait_for_address(VIP, true, Duration::from_secs(8)),
        "a never became master:\n{}",
        daemon_log(&ka)
    );
    assert!(ka.wait_for_log("(VI_1) Entering MASTER STATE", Duration::from_secs(1)));
    assert!(kb.wait_for_log("(VI_1) Entering BACKUP STATE", Duration::from_secs(1)));
    assert!(!b.has_address(VIP).expect("addresses of b"));
    let before = [daemon_log(&ka), daemon_log(&kb)];

    let injector = Injector::open(x, "eth0").expect("injector");
    let started = Instant::now();
    // One of each kind at each priority, then the flood: 1000 in one second.
    let singles = 2 * KINDS.len();
    for n in 0..singles {
        injector.send(&forge(n, x.address())).expect("send");
        thread::sleep(Duration::from_millis(10));
    }
    let flood_start = Instant::now();
    for i in 0..FLOOD {
        let due = flood_start + Duration::from_micros(1_000_000 * i as u64 / FLOOD as u64);
        thread::sleep(due.saturating_duration_since(Instant::now()));
        injector
            .send(&forge(singles + i, x.address()))
            .expect("send");
    }
    let flood_took = flood_start.elapsed();
    let sent = singles + FLOOD;
    // Time for a wrongly accepted advert to show: the master steps down at once, the backup
    // takes over after Skew_Time (0.61 s).
    thread::sleep(Duration::from_millis(1500));
    let injected_for = started.elapsed();
    assert!(
        flood_took < Duration::from_millis(1500),
        "the flood took {flood_took:?}"
    );

    // No crash, no state change.
    assert!(ka.is_running(), "a died:\n{}", daemon_log(&ka));
    assert!(kb.is_running(), "b died:\n{}", daemon_log(&kb));
    assert!(
        a.has_address(VIP).expect("addresses of a"),
        "a lost the VIP"
    );
    assert!(
        !b.has_address(VIP).expect("addresses of b"),
        "b took the VIP"
    );
    let after = [daemon_log(&ka), daemon_log(&kb)];
    for (name, (old, new)) in ["a", "b"].iter().zip(before.iter().zip(&after)) {
        assert_eq!(
            state_lines(old),
            state_lines(new),
            "{name} changed state under attack:\n{new}"
        );
    }

    // Not flooded: per daemon, one line per reason (the first packet of each, "1 so far") and
    // one for the unknown VRID; nothing else but gratuitous ARP refreshes.
    for (name, (old, new)) in ["a", "b"].iter().zip(before.iter().zip(&after)) {
        let added: Vec<&str> = new
            .lines()
            .skip(old.lines().count())
            .filter(|l| !l.contains("gratuitous ARP"))
            .collect();
        let report = added.join("\n");
        for kind in &KINDS {
            let n = match kind.reason {
                Some(reason) => {
                    let line = format!(
                        "VRRP_Instance(VI_1) dropped an advert from {}: {reason} (1 so far)",
                        x.address()
                    );
                    assert!(
                        added.iter().any(|l| l.ends_with(&line)),
                        "{name}: no `{line}` for `{}`:\n{report}",
                        kind.name
                    );
                    added.iter().filter(|l| l.contains(reason)).count()
                }
                None => added
                    .iter()
                    .filter(|l| {
                        l.contains(&format!(
                            "(interface eth0) received an advert for VRID {UNKNOWN_VRID} that \
                             no instance here runs"
                        ))
                    })
                    .count(),
            };
            assert_eq!(n, 1, "{name}: {n} lines for `{}`:\n{report}", kind.name);
        }
        assert_eq!(
            added.len(),
            KINDS.len(),
            "{name} logged more than one line per reason:\n{report}"
        );
    }

    // Each counted: stop the backup first (so nothing moves), then the master.
    for (name, k) in [("b", &mut kb), ("a", &mut ka)] {
        let status = k.stop().expect("SIGTERM");
        assert!(
            status.success(),
            "{name} exited with {status}:\n{}",
            daemon_log(k)
        );
    }
    let per_kind = (sent / KINDS.len()) as u64;
    for (name, k) in [("a", &ka), ("b", &kb)] {
        let counts = counts_after(&daemon_log(k), "VRRP_Instance(VI_1) dropped adverts: ");
        let want: BTreeMap<String, u64> = KINDS
            .iter()
            .filter_map(|kind| kind.reason.map(|r| (r.to_string(), per_kind)))
            .collect();
        assert_eq!(
            counts,
            want,
            "{name}'s drop counters after {sent} forged adverts:\n{}",
            daemon_log(k)
        );
        let unknown = format!("(interface eth0) dropped packets: unknown VRID {per_kind}");
        assert!(
            daemon_log(k).contains(&unknown),
            "{name}: no `{unknown}`:\n{}",
            daemon_log(k)
        );
    }

    // On the wire: every forged packet went out; the master sent its adverts once a second and
    // did not answer the forged ones; the backup stayed silent until it was stopped.
    let packets = capture.packets().expect("capture");
    assert_eq!(vrrp_from(&packets, x.address()).len(), sent);
    let first_forged = vrrp_from(&packets, x.address())
        .first()
        .map(|p| p.time_ns)
        .expect("forged packets on the wire");
    let window = first_forged..first_forged + injected_for.as_nanos();
    let from_a = vrrp_from(&packets, a.address())
        .into_iter()
        .filter(|p| window.contains(&p.time_ns))
        .count();
    let most = injected_for.as_secs() + 2;
    assert!(
        (1..=most as usize).contains(&from_a),
        "a sent {from_a} adverts in {injected_for:?} under attack"
    );
    let from_b = vrrp_from(&packets, b.address())
        .into_iter()
        .filter(|p| window.contains(&p.time_ns))
        .count();
    assert_eq!(from_b, 0, "the backup advertised under attack");
    eprintln!(
        "hostile: {sent} forged adverts (flood of {FLOOD} in {flood_took:.2?}), a advertised \
         {from_a} times in {injected_for:.1?}; {:.1?} in all",
        t0.elapsed()
    );
}

/// RFC 3768 section 7.1: a receiver MUST drop an advert whose TTL is not 255, whatever its
/// destination, so an attacker off the link cannot reach the virtual router. keepalived 2.2.7
/// (multicast mode) ignores these; here they are sent to the master's own address.
#[test]
fn unicast_advert_with_ttl_64_is_dropped() {
    if !require_root() || !require_programs(&["ip", "kill"]) {
        return;
    }
    let lab = Lab::new("hostilettl", &["a", "x"]).expect("lab");
    let (a, x) = (lab.host("a"), lab.host("x"));
    let conf = VrrpInstance::new(VRID, 150, &["192.0.2.100/32"])
        .auth_pass(PASS)
        .render("a");
    let mut ka = Keepalived::start_with(a, Path::new(OURS), &conf, &[]).expect("a");
    assert!(
        a.wait_for_address(VIP, true, Duration::from_secs(8)),
        "a never became master:\n{}",
        daemon_log(&ka)
    );
    assert!(ka.wait_for_log("(VI_1) Entering MASTER STATE", Duration::from_secs(1)));
    let before = daemon_log(&ka);
    let injector = Injector::open(x, "eth0").expect("injector");
    let mut advert = forge(0, x.address());
    assert_eq!((advert.ttl, advert.priority), (64, 254));
    advert.dst = a.address();
    for _ in 0..3 {
        injector.send(&advert).expect("send");
        thread::sleep(Duration::from_millis(100));
    }
    thread::sleep(Duration::from_millis(700));
    assert!(ka.is_running(), "a died:\n{}", daemon_log(&ka));
    assert!(
        a.has_address(VIP).expect("addresses of a"),
        "a gave up the VIP for an advert with TTL 64:\n{}",
        daemon_log(&ka)
    );
    assert_eq!(
        state_lines(&before),
        state_lines(&daemon_log(&ka)),
        "a changed state for an advert with TTL 64:\n{}",
        daemon_log(&ka)
    );
    ka.stop().expect("SIGTERM");
    let counts = counts_after(&daemon_log(&ka), "VRRP_Instance(VI_1) dropped adverts: ");
    assert_eq!(counts.get("invalid TTL"), Some(&3), "{}", daemon_log(&ka));
}
